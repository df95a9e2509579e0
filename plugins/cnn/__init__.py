"""Built-in cnn plugin (registers nothing yet)."""
