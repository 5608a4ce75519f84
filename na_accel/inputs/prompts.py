"""Prompts: the default one, the small set shipped with the package, and ``--prompt-file`` parsing.

Light on purpose (no torch): the CLI's parser shows the default prompt in its help.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ArgumentError
from .input_files import read_input_text

DEFAULT_PROMPT = "a red fox in the snow"  # every command's and every tiny preset's (tiny/_call.py), short enough for their 32 text tokens
# A small prompt set shipped with the package (`--prompt-file` takes its path; the eval suites use it).
SHIPPED_PROMPTS = Path(__file__).with_name("prompts.txt")
# The prompts tiny-flux-shapes understands (a model's ``prompt_file``: models/model_list.py).
SHAPES_PROMPTS = Path(__file__).resolve().parents[1] / "tiny" / "shapes" / "prompts.txt"
JSON_KINDS = {dict: "a JSON object", str: "a JSON string", int: "a JSON number", float: "a JSON number",
              bool: "a JSON boolean", type(None): "JSON null"}


def read_prompts(path: str | Path) -> list[str]:
    """A prompt file (UTF-8, at most ``MAX_INPUT_BYTES``): a JSON list of non-empty strings, or one
    prompt per line (blank lines and # comments skipped). Other JSON (an object) is refused, not run
    as one prompt."""
    path = Path(path)
    text = read_input_text("--prompt-file", path)
    start = text.lstrip()[:1]
    if start in ("[", "{"):
        try:
            prompts = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArgumentError(f"--prompt-file: {str(path)!r} looks like JSON but does not parse: {exc}") from None
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            what = "a JSON list with non-strings" if isinstance(prompts, list) else JSON_KINDS[type(prompts)]
            raise ArgumentError(f"--prompt-file: {str(path)!r} holds {what}; allowed: a JSON list of strings, "
                                "or one prompt per line")
        empty = [i for i, p in enumerate(prompts) if not p.strip()]
        if empty:
            raise ArgumentError(f"--prompt-file: {str(path)!r}: prompt {empty[0]} of the JSON list is empty; "
                                "allowed: non-empty strings")
    else:
        prompts = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise ArgumentError(f"--prompt-file: {str(path)!r} holds no prompts")
    return prompts
