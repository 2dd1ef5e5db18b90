"""The bundled apps. Each is built only on cauce's public API."""
