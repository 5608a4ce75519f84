"""Loaded models: what ``na_accel.models.zoo.load_model`` returns, ready to run and time.

``PipelineModel`` is a diffusers pipeline (a tiny preset or real weights), ``SyntheticModel`` a
random-weights transformer in a synthetic denoising loop; both have ``.pipe`` (what
``na_accel.patch`` takes) and ``.generate(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ..families.family_types import FamilyGeometry
from ..families.registry import family_geometry, family_spec
from ..pipeline_parts import generated, pipeline_transformers


@dataclass
class LoadedModel:
    """A model ready to run: ``pipe`` is what ``na_accel.patch`` takes."""

    name: str
    family: str
    source: str  # "tiny preset", "random weights", "pretrained"
    pipe: Any
    default_height: int
    default_width: int
    default_frames: int | None
    default_steps: int
    details: dict[str, Any] = field(default_factory=dict)
    frames_per_token: int | None = None  # overrides the family's (tiny VAEs)
    pixels_per_token: int | None = None  # overrides the family's (tiny VAEs)
    single_frame: bool = False  # a video family's transformer making images (one latent frame)
    # Where each default comes from ("height", "width", "frames", "steps"), as the run's plan line says it.
    default_sources: dict[str, str] = field(default_factory=dict)

    @property
    def geometry(self) -> FamilyGeometry:
        return family_geometry(self.family, frames_per_token=self.frames_per_token,
                               pixels_per_token=self.pixels_per_token)

    @property
    def is_video(self) -> bool:
        return self.geometry.is_video and not self.single_frame

    @property
    def transformer(self) -> torch.nn.Module:
        return self.pipe.components["transformer"]

    @property
    def transformers(self) -> list[torch.nn.Module]:
        """The denoisers (``na_accel.pipeline_parts.pipeline_transformers``): ``transformer`` and, for
        two-stage pipelines (Wan 2.2), ``transformer_2``; classic or modular."""
        return [module for _, module in pipeline_transformers(self.pipe)]

    @property
    def outputs_pixels(self) -> bool:
        """True when ``generate`` returns images/frames in [0, 1]; False for latents (random weights)."""
        return self.source != "random weights"

    def info(self) -> dict[str, Any]:
        transformer = self.transformer
        parameters = sum(p.numel() for p in transformer.parameters())
        first = next(transformer.parameters())
        return {
            "name": self.name,
            "family": self.family,
            "source": self.source,
            "transformer_class": type(transformer).__name__,
            "parameters": parameters,
            "dtype": str(first.dtype).replace("torch.", ""),
            "device": str(first.device),
            **self.details,
        }

    def generate(self, *, prompt: str, seed: int, height: int, width: int, frames: int | None,
                 steps: int, batch: int = 1) -> torch.Tensor:
        """Images [B, 3, H, W] / videos [B, F, 3, H, W] in [0, 1] (latents for random weights), on the
        model's device (``.float().cpu()`` it after timing)."""
        raise NotImplementedError


@dataclass
class PipelineModel(LoadedModel):
    """A diffusers pipeline, classic or modular (tiny preset or real weights); ``prompt_kwargs`` turns a
    prompt into call kwargs."""

    prompt_kwargs: Callable[[str, int, int], dict[str, Any]] | None = None

    def generate(self, *, prompt, seed, height, width, frames, steps, batch=1):
        kwargs: dict[str, Any] = dict(
            height=height,
            width=width,
            num_inference_steps=steps + family_spec(self.family).schedule_extra_points,
            output_type="pt",
            generator=torch.Generator().manual_seed(seed),
        )
        if self.is_video and frames is not None:
            kwargs["num_frames"] = frames
        if self.prompt_kwargs is not None:
            kwargs.update(self.prompt_kwargs(prompt, seed, batch))
        else:
            kwargs["prompt"] = prompt if batch == 1 else [prompt] * batch
        with torch.no_grad():
            output = self.pipe(**kwargs)
        result = generated(output)  # a classic pipeline's output or a modular one's PipelineState
        if isinstance(result, (list, tuple)):
            result = torch.stack([torch.as_tensor(r) for r in result])
        return result  # on the pipeline's device: callers move it after their timers stop


@dataclass
class SyntheticModel(LoadedModel):
    """A full-size (or overridden) transformer with random weights in a synthetic denoising loop."""

    def generate(self, *, prompt, seed, height, width, frames, steps, batch=1):
        grid = self.geometry.token_grid(height, width, frames, name=self.name, single_frame=self.single_frame)
        return self.pipe(grid=grid, num_inference_steps=steps, batch=batch, seed=seed)


def validate_size(model: LoadedModel, height: int, width: int, frames: int | None, batch: int = 1) -> tuple[int, ...]:
    """The token grid for the size, or an ArgumentError naming the field, the value and what is allowed
    (tiny presets: also what fits in memory, ``inputs.sizes.check_tiny_size``)."""
    from ..inputs.sizes import check_tiny_size

    grid = model.geometry.token_grid(height, width, frames, name=model.name, single_frame=model.single_frame)
    if model.source == "tiny preset":
        check_tiny_size(model.name, grid, batch, f"{height}x{width} pixels")
    return grid


__all__ = ["LoadedModel", "PipelineModel", "SyntheticModel", "validate_size"]
