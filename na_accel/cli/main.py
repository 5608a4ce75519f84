"""The ``na-accel`` command line: ``build_parser`` and ``main``; each subcommand is a module here.

    na-accel demo      patch an embedded tiny FLUX pipeline, show what ran sparse and the
                       difference to dense attention (and to the reference backend)
    na-accel recipes   list the shipped recipes
    na-accel models    list the model names bench and compare accept
    na-accel bench     time a pipeline dense vs patched with a recipe (JSON + table)
    na-accel compare   dense vs patched outputs of one seed: pictures, PSNR/SSIM, HTML report
    na-accel estimate  what a recipe buys at a resolution: density, FLOP / tile bounds, estimate
    na-accel calibrate time dense vs GNA attention on this GPU: the speed gate's cost profile
    na-accel tune      a recipe tuned on your model: per layer the cheapest window within an error budget

``--help``, ``--version``, ``recipes``, ``models`` and ``estimate`` import neither torch nor diffusers
(they start at once): a subcommand imports what its run needs inside ``run``.

A subcommand module has ``NAME``, ``add_parser(subparsers) -> parser`` and ``run(args) -> int``;
adding one is a module and an entry in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import textwrap

from ..errors import NaAccelError
from ..version import __version__
from . import bench, calibrate, compare, demo, estimate, models, recipes, tune

SUBCOMMANDS = (demo, recipes, models, bench, compare, estimate, calibrate, tune)  # in --help's order


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, without breaking lines at hyphens (model names like tiny-hunyuan-video stay whole)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="na-accel", description="Training-free Generalized Neighborhood Attention for diffusers pipelines.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True,
                                       parser_class=functools.partial(argparse.ArgumentParser,
                                                                      formatter_class=HelpFormatter))
    for command in SUBCOMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run = {command.NAME: command.run for command in SUBCOMMANDS}[args.command]
    try:
        try:
            return run(args)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
    except NaAccelError as exc:
        result = getattr(exc, "result", None)  # a measurement whose file could not be written (OutputWriteError)
        if result is not None:
            _print_result(result)
        print(f"na-accel: error: {exc}" + ("; the result is printed to stdout above" if result is not None else ""),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C: one line, the shell's code for SIGINT (128 + 2); a run folder is replaced only after
        # its run completed, so the previous complete one is still there.
        print("\nna-accel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`na-accel estimate ... | head`): stop quietly, as Python's docs advise
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe): point stdout at devnull so
        # the interpreter's final flush can't fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is no file (captured in-process): nothing left to flush
            pass
        return 1


def _print_result(result: object) -> None:
    import json

    from ..outputs.json_files import json_safe

    try:
        print(json.dumps(json_safe(result), indent=2, allow_nan=False, default=str))
        sys.stdout.flush()
    except (OSError, ValueError, TypeError):  # stdout itself is gone: the error line still goes to stderr
        pass
