"""The ``deltaprop`` command-line tool."""

from deltaprop.cli.main import main

__all__ = ["main"]
