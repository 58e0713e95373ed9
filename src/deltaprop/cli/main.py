"""The ``deltaprop`` command-line tool: the parser and the dispatch.

Each subcommand is one small function taking the parsed arguments and returning an exit
code; it lives in the module of its family (:mod:`deltaprop.cli.tabular`,
:mod:`~deltaprop.cli.explain`, :mod:`~deltaprop.cli.serve`, :mod:`~deltaprop.cli.demo`),
with options from :mod:`deltaprop.cli.options`. Exit codes: 0 success, 2 bad usage or
bad input (one line on stderr, no traceback), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from deltaprop._version import __version__
from deltaprop.cli import demo, explain, serve, tabular
from deltaprop.cli.options import Parser, UsageError
from deltaprop.cli.terminal import terminal_safe

__all__ = ["build_parser", "main"]


_EPILOG = """examples:
  deltaprop demo
  deltaprop train data.csv --target label --out model.deltaprop
  deltaprop info model.deltaprop
  deltaprop evaluate model.deltaprop test.csv --target label --json
  deltaprop predict model.deltaprop new.csv --proba --out predictions.csv
  deltaprop explain model.deltaprop test.csv --row 1
  deltaprop serve data.csv --target label

Each command's --help lists its options; docs/cli.md documents them all.
Exit codes: 0 success, 1 unexpected error, 2 bad usage or input, 3 training
diverged, 130 Ctrl-C."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deltaprop`` command."""
    parser = Parser(
        prog="deltaprop",
        description="Train feed-forward neural networks by error backpropagation.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    demo.add_demo(commands)
    tabular.add_commands(commands)  # train, predict, evaluate, info, export-onnx
    explain.add_explain(commands)
    serve.add_serve(commands)
    return parser


def _one_line(exc: BaseException | str) -> str:
    # messages carry names and values from files: safe for a terminal, on one line
    return terminal_safe(" ".join(str(exc).split("\n"))) or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"deltaprop: warning: {_one_line(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Exit codes: 0 success; 2 bad usage or bad input (one line ``deltaprop: error: ...``
    on stderr, no traceback); 1 anything unexpected, a missing optional dependency or a
    failing disk; 3 when ``train`` diverged; 130 when Ctrl-C stopped training (the model
    is written first).
    """
    parser = build_parser()
    args = None
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one line each, no source line
        try:
            args = parser.parse_args(argv)
            return args.func(args)
        except (UsageError, ValueError, TypeError) as exc:
            # an error that names a setting says it as the command line spells it
            text = _one_line(getattr(exc, "cli", None) or exc)
            print(f"deltaprop: error: {text}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("deltaprop: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # the reader went away (e.g. `deltaprop explain | head`): stop quietly, as cat does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except ImportError as exc:
            print(f"deltaprop: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        except (OSError, MemoryError) as exc:
            print(f"deltaprop: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        except Exception as exc:
            if getattr(args, "verbose", 0):
                traceback.print_exc()
            hint = "" if getattr(args, "verbose", 0) else " (rerun with -v for the traceback)"
            print(
                f"deltaprop: error: unexpected {type(exc).__name__}: {_one_line(exc)}{hint}",
                file=sys.stderr,
            )
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
