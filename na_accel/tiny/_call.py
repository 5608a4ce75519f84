"""The call-kwargs helper of every tiny preset: one ``TinyCall`` of defaults per preset.

``call = TinyCall(height=256, width=256, steps=2, pipeline_kwargs={"guidance_scale": 3.5})``;
``call()`` gives the kwargs of the preset's default generation (size, frames, steps, a seeded
generator, output type, prompt, text length and the pipeline's own kwargs) and
``call(steps=1, height=64, guidance_scale=1.0, ...)`` overrides or adds any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from ..inputs.prompts import DEFAULT_PROMPT

_DEFAULT = object()  # a call's prompt left out: the preset's default prompt
TEXT_TOKENS = 32  # max_sequence_length of every tiny generation (the tiny tokenizers: one token per character)


@dataclass(frozen=True)
class TinyCall:
    """Call kwargs of a tiny preset's default generation (see the module docstring)."""

    height: int
    width: int
    steps: int
    num_frames: int | None = None  # video presets
    output_type: str = "pt"
    pipeline_kwargs: Mapping[str, Any] = field(default_factory=dict)  # guidance, negative prompt, ...
    # kwargs computed at call time (they need a tokenizer, say), e.g. HunyuanVideo's prompt template
    computed_kwargs: Callable[[], Mapping[str, Any]] | None = None
    # the pipeline's text-length argument; None where it has none (HunyuanVideo 1.5: set on the pipeline)
    text_tokens_kwarg: str | None = "max_sequence_length"
    prompt: str = DEFAULT_PROMPT  # the default prompt (a trained preset's is one it knows how to draw)

    def __call__(self, *, steps: int | None = None, seed: int = 0, prompt: Any = _DEFAULT, **overrides) -> dict:
        kwargs = {
            "height": self.height,
            "width": self.width,
            "num_inference_steps": self.steps if steps is None else steps,
            "generator": torch.Generator().manual_seed(seed),
            "output_type": self.output_type,
            "prompt": self.prompt if prompt is _DEFAULT else prompt,  # None: no prompt (embeddings given)
        }
        if self.text_tokens_kwarg is not None:
            kwargs[self.text_tokens_kwarg] = TEXT_TOKENS
        if self.num_frames is not None:
            kwargs["num_frames"] = self.num_frames
        kwargs.update(self.pipeline_kwargs)
        if self.computed_kwargs is not None:
            kwargs.update(self.computed_kwargs())
        return {**kwargs, **overrides}


__all__ = ["TinyCall"]
