"""Import diffusers pipeline classes without transformers' notices about optional extras.

Importing a pipeline module makes transformers log that its image processors fall back to a
Pillow implementation when torchvision is missing. The tiny pipelines never use an image
processor, so on the demo's first screen that is noise; real errors are still raised.
"""

from __future__ import annotations

import importlib
from typing import Any


def pipeline_classes(*names: str) -> tuple[Any, ...]:
    """``diffusers.<name>`` for each name, imported with transformers' logging at error level."""
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        diffusers = importlib.import_module("diffusers")
        return tuple(getattr(diffusers, name) for name in names)
    finally:
        logging.set_verbosity(level)
