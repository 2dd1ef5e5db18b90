"""The `cauce` command line: one module per command group."""
