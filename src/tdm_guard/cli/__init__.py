"""The command line (`tdm-guard`): the only part of the package that parses arguments or
prints. `main` is the console-script entry point."""

from .main import main

__all__ = ["main"]
