"""CLI command modules; each one registers its commands on ``ts_toolkit.cli.app``.

- ``simulate_cmds``: simulate, plot-spectra, demo
- ``learn_cmds``: train, evaluate
- ``apply_cmds``: extract, predict, batch
"""
