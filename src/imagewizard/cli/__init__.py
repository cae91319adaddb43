"""The ``imagewizard`` command line (Typer): ``main`` is the console entry point."""

from imagewizard.cli.commands import app, main

__all__ = ["app", "main"]
