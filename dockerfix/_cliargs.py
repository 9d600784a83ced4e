"""argparse for the subcommands (verify, pr), in the CLI's one error style."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def error_line(command: str, message: str) -> str:
    """``dockerfix: error: COMMAND: MESSAGE``: every error of every command starts the same way."""
    return f"dockerfix: error: {command}: {message}\n"


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors read ``dockerfix: error: <command>: <message>`` (exit 2), like
    the main command's, instead of argparse's ``<prog>: error: <message>``."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        command = self.prog.split(" ", 1)[1] if " " in self.prog else self.prog
        self.exit(2, error_line(command, message))
