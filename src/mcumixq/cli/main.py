"""The `mcumixq` command: parser, logging, and the one place errors become exit codes.

Each subcommand lives in its own module `mcumixq.cli.<name>` exposing `add_parser(sub)` and
`run(args) -> int`. Those modules import heavy dependencies (torch, unicorn) inside `run`, so
`mcumixq --help` stays fast. A subcommand module that does not exist yet is simply not offered.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from mcumixq import __version__
from mcumixq.cli.exit import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK
from mcumixq.errors import MqError

SUBCOMMANDS = (
    "train",
    "export",
    "eval",
    "run",
    "deploy",
    "bench",
    "calibrate",
    "search",
    "pareto",
    "demo",
    "report",
)

log = logging.getLogger("mcumixq")


class OneLineParser(argparse.ArgumentParser):
    """argparse parser whose usage errors are one line (what + where to look), exit status 2.

    argparse's default prints the whole usage block before the error; for a long subcommand
    that buries the one line the user needs. Subparsers inherit this class.
    """

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message; see 'prog --help'` on stderr and exit 2."""
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = OneLineParser(
        prog="mcumixq",
        description="Mixed-precision CNNs from PyTorch to fast C for Arm Cortex-M (SLBC kernels).",
        epilog="example: mcumixq demo --out out/demo",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output")
    parser.add_argument("--version", action="version", version=f"mcumixq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"mcumixq.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"mcumixq.cli.{name}":
                continue
            raise
        p = module.add_parser(sub)
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS)
        p.add_argument("-q", "--quiet", action="count", default=argparse.SUPPRESS)
        p.set_defaults(_run=module.run)
    return parser


def configure_logging(verbose: int, quiet: int) -> None:
    """Map -v/-q counts to a logging level (pipx's formula), handler on stderr."""
    level = min(max(logging.DEBUG, logging.WARNING - 10 * verbose + 10 * quiet), logging.CRITICAL)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the subcommand, translate errors into exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(getattr(args, "verbose", 0), getattr(args, "quiet", 0))
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args) or EXIT_OK)
    except MqError as err:
        if getattr(args, "verbose", 0):  # STYLE §2: the traceback only with -v
            log.error("traceback of the error below", exc_info=True)
        print(f"mcumixq: error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # disk full, permissions, a path vanishing mid-run: the user's to fix
        if getattr(args, "verbose", 0):
            log.error("traceback of the error below", exc_info=True)
        print(f"mcumixq: error: {err}; check the path, permissions and free space", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("mcumixq: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def cli() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
