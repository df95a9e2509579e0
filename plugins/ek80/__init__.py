"""Built-in ek80 plugin (registers nothing yet)."""
