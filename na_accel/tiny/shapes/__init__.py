"""``tiny-flux-shapes``: a tiny FLUX.1 pipeline trained by na_accel to draw the shapes world.

Unlike the other tiny presets (random weights: their pictures are noise), this one has learned
something: "a red circle at the top left" gives a red circle at the top left (``scenes.py``: 6
colours, 3 shapes, 9 positions on a dark background). Every component is a real diffusers /
transformers class (FluxPipeline, FluxTransformer2DModel 4 heads x 32, AutoencoderKL with a 2x
VAE, CLIP and T5 text encoders over a word-level tokenizer), trained from a seed on a CPU by
``train.py``; the weights ship in ``model/`` (a diffusers pipeline folder, float16, ~4 MB) with
``model/training.json`` (command, seed, data recipe, loss curves, times, versions).

At its default 128x128 pixels the token grid is 32x32 (4 pixels per token: 2x VAE, 2x2 packing),
where the shipped flux_gna runs sparse. Its default call runs true CFG (``true_cfg_scale`` 4 with
an empty negative prompt; the model was trained with 10% empty captions): two transformer calls
per step.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

from .._call import TinyCall
from .._defaults import tiny_pipeline_class, with_call_defaults
from .._imports import pipeline_classes
from .tokenizer import T5_TOKENS

MODEL_DIR = Path(__file__).with_name("model")
PIXELS_PER_TOKEN = 4  # the 2x VAE times FLUX's 2x2 packing (FLUX.1's own: 16)
PROMPTS_FILE = Path(__file__).with_name("prompts.txt")  # compare and tune take these on it (models/model_list.py)
# its first prompt: the preset's default (one prompt per line, # comments)
DEFAULT_SHAPES_PROMPT = next(line.strip() for line in PROMPTS_FILE.read_text(encoding="utf-8").splitlines()
                             if line.strip() and not line.lstrip().startswith("#"))


def tiny_flux_shapes_pipeline(seed: int = 0):
    """The trained pipeline, loaded from ``MODEL_DIR`` in float32. ``seed`` is accepted as every tiny
    preset's factory takes one, and unused: the weights are trained (a call's generator seeds its noise)."""
    (FluxPipeline,) = pipeline_classes("FluxPipeline")
    with _quiet_loading():
        # stored in float16; loaded, then cast (``torch_dtype`` is deprecated in later diffusers, ``dtype`` unknown to 0.36)
        pipe = tiny_pipeline_class(FluxPipeline).from_pretrained(MODEL_DIR).to(torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_flux_shapes_call())


@contextmanager
def _quiet_loading():
    """from_pretrained's notices and progress bars (diffusers' and transformers') are noise on the demo's screen."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    saved = [(lib, lib.get_verbosity(), lib.is_progress_bar_enabled()) for lib in (diffusers_logging, transformers_logging)]
    for lib, _, _ in saved:
        lib.set_verbosity_error()
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, level, bars in saved:
            lib.set_verbosity(level)
            if bars:
                lib.enable_progress_bar()


# 128x128 pixels -> 64x64 latents -> a 32x32 token grid, the size it was trained at; 12 Euler steps
# with true CFG (two transformer calls per step).
tiny_flux_shapes_call = TinyCall(
    height=128,
    width=128,
    steps=12,
    prompt=DEFAULT_SHAPES_PROMPT,
    pipeline_kwargs={"max_sequence_length": T5_TOKENS, "true_cfg_scale": 4.0, "negative_prompt": ""},
)

__all__ = ["DEFAULT_SHAPES_PROMPT", "MODEL_DIR", "PROMPTS_FILE", "PIXELS_PER_TOKEN", "tiny_flux_shapes_call", "tiny_flux_shapes_pipeline"]
