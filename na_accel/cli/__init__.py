"""The ``na-accel`` command line: one module per subcommand, each with ``add_parser`` and ``run``."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
