"""Built-in classic plugin (registers nothing yet)."""
