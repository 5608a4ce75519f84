"""Arguments more than one subcommand takes, and the parsing of their values.

The checks themselves live with what they check (``kernels.check_backend_name``, ``inputs.sizes``,
``inputs.devices``, ``outputs.output_paths``); the subcommands call them before any model is built.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ArgumentError
from ..kernels import AUTO

OUTPUT_DIR_POLICY = ("a run first removes the files the previous na-accel run wrote there (listed in "
                     ".na-accel-run.json), so runs never mix; other files are left alone")


def add_backend_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--backend``: a name of the backend registry (``kernels.BACKEND_NAMES``), checked by
    ``kernels.check_backend_name`` when the command runs."""
    parser.add_argument("--backend", default=AUTO, help=f"{help_text} (default: %(default)s)")


def add_size_arguments(parser: argparse.ArgumentParser, owner: str, frames_help: str) -> None:
    """``--height``, ``--width`` and ``--frames``, each defaulting to the ``owner``'s (model or family)."""
    parser.add_argument("--height", type=int, default=None, help=f"output height in pixels (default: the {owner}'s)")
    parser.add_argument("--width", type=int, default=None, help=f"output width in pixels (default: the {owner}'s)")
    parser.add_argument("--frames", type=int, default=None, help=frames_help)


def add_output_dir_argument(parser: argparse.ArgumentParser, default: str, contents: str) -> None:
    """``--output-dir``: where a run's ``contents`` go, replacing the previous run's files there."""
    parser.add_argument("--output-dir", type=Path, default=Path(default),
                        help=f"where {contents} go; {OUTPUT_DIR_POLICY} (default: %(default)s)")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """What bench and compare take: a model, a recipe, and how to build and run the model."""
    from ..models.model_list import models_help

    parser.add_argument("model", help=models_help())
    parser.add_argument("--recipe", required=True, help="shipped recipe name or .yaml/.json path")
    add_backend_argument(parser, "attention backend: auto (the fastest that runs here), triton, reference or a "
                                 "NATTEN backend name")
    parser.add_argument("--random-weights", action="store_true",
                        help="build the full-size transformer from its shipped config with random weights")
    parser.add_argument("--config-override", action="append", metavar="KEY=VALUE",
                        help="change a --random-weights config value (JSON), e.g. num_layers=2; repeatable "
                             "(default: none)")
    add_size_arguments(parser, "model", "video frames (video models; default: the model's)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--dtype", default="float32", help="float32, float16 or bfloat16 (default: %(default)s)")
    parser.add_argument("--device", default="auto",
                        help="auto (cuda when visible, else cpu), cpu, cuda, cuda:1, ... (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the latents (and of the tiny presets' weights) (default: %(default)s)")
    parser.add_argument("--text-len", type=int, default=None,
                        help="text tokens of --random-weights inputs (default: the family's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``--config-override`` values: ``["num_layers=1", "axes_dims_rope=[4,6,6]"]`` -> dict; values are
    JSON (else strings)."""
    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ArgumentError(f"--config-override: {item!r} is not KEY=VALUE (e.g. num_layers=2)")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def check_prompt(prompt: str | None, default: str | None = None) -> str:
    """``--prompt``: the text, or ``default`` (the model's default prompt; else the shipped default) when
    not given; an empty (or blank) one is refused rather than silently replaced by the default."""
    from ..inputs.prompts import DEFAULT_PROMPT

    default = DEFAULT_PROMPT if default is None else default
    if prompt is None:
        return default
    if not prompt.strip():
        raise ArgumentError(f"--prompt: {prompt!r} is empty; allowed: some text, or leave --prompt out for the "
                            f"default ({default!r})")
    return prompt
