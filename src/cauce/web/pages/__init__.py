"""One module per group of pages; each gives its routes with ``routes(ui)``."""
