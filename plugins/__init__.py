"""Built-in ts-toolkit plugins.

Each sub-package is registered through the ``ts_toolkit`` entry-point group in
``pyproject.toml``, exactly as a third-party plugin package would be; the core never
imports these modules by name.
"""
