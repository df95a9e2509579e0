"""``python -m ts_toolkit``: the ts-toolkit command line."""

from .cli import main

main()
