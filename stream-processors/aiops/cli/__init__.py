"""The ``aiops`` command line: one module per command group, mounted by :mod:`aiops.cli.main`."""

from aiops.cli.main import cli, main

__all__ = ["cli", "main"]
