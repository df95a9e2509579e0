"""Prolate spheroid plugin (in progress)."""
