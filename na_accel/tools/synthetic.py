"""A synthetic denoising loop for transformers with random weights (speed does not depend on weights).

``SyntheticPipeline`` holds a bare transformer and a real ``FlowMatchEulerDiscreteScheduler``: each
call builds random latents and text embeddings shaped as the family's pipeline would pass them,
then runs ``num_inference_steps`` transformer calls with scheduler steps in between. It looks like
a pipeline to ``na_accel.patch`` (a ``components`` dict with "transformer", and a ``scheduler``
whose ``step_index`` drives recipes' ``dense_steps``). Its output is the final latent tensor.

One input builder per family: ``INPUT_BUILDERS[family](transformer, grid, batch, text_len, device,
dtype, seed) -> SyntheticInputs``; the video families reuse ``na_accel.tiny``'s config-driven
builders. Adding a family is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..errors import ArgumentError

# Text lengths the real pipelines use by default (T5 512 for FLUX-dev, LLaMA 256 for HunyuanVideo,
# T5-11B 512 for Cosmos, UMT5 512 for Wan).
DEFAULT_TEXT_LEN = {"flux": 512, "hunyuan_video": 256, "cosmos": 512, "wan": 512}


@dataclass
class SyntheticInputs:
    """Keyword arguments of one transformer call; ``latents`` replaces ``kwargs[latent_key]``."""

    latents: torch.Tensor
    kwargs: dict[str, Any]
    latent_key: str = "hidden_states"
    timestep_scale: float = 1.0  # scheduler timesteps are 0..1000; FLUX's transformer takes t / 1000


def _randn(shape, generator, device, dtype) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device="cpu", dtype=torch.float32).to(device, dtype)


def flux_inputs(transformer, grid, batch, text_len, device, dtype, seed) -> SyntheticInputs:
    """FLUX: packed latents (B, H*W, in_channels), img_ids / txt_ids, pooled text, guidance."""
    config = transformer.config
    generator = torch.Generator().manual_seed(seed)
    height, width = grid
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    kwargs = {
        "encoder_hidden_states": _randn((batch, text_len, config.joint_attention_dim), generator, device, dtype),
        "pooled_projections": _randn((batch, config.pooled_projection_dim), generator, device, dtype),
        "img_ids": torch.stack([torch.zeros_like(rows), rows, cols], dim=1).to(device, dtype),
        "txt_ids": torch.zeros(text_len, 3, device=device, dtype=dtype),
    }
    if config.guidance_embeds:
        kwargs["guidance"] = torch.full((batch,), 3.5, device=device, dtype=torch.float32)
    latents = _randn((batch, height * width, config.in_channels), generator, device, dtype)
    return SyntheticInputs(latents, kwargs, timestep_scale=1e-3)


def _from_tiny_builder(name: str) -> Callable[..., SyntheticInputs]:
    """The video families: na_accel.tiny's config-driven input builders serve full-size configs too."""

    def build(transformer, grid, batch, text_len, device, dtype, seed) -> SyntheticInputs:
        from .. import tiny

        kwargs = getattr(tiny, name)(transformer, grid=tuple(grid), batch=batch, text_len=text_len, seed=seed,
                                     device=device, dtype=dtype)
        kwargs.pop("timestep", None)
        return SyntheticInputs(kwargs.pop("hidden_states"), kwargs)

    return build


def cosmos_inputs(transformer, grid, batch, text_len, device, dtype, seed) -> SyntheticInputs:
    if transformer.config.concat_padding_mask:
        try:
            import torchvision  # noqa: F401  (diffusers resizes the padding mask with torchvision)
        except ImportError:
            raise ArgumentError(
                "model: CosmosTransformer3DModel with concat_padding_mask=true needs torchvision "
                "(pip install torchvision), or override it: --config-override concat_padding_mask=false"
            ) from None
    return _from_tiny_builder("cosmos_transformer_inputs")(transformer, grid, batch, text_len, device, dtype, seed)


INPUT_BUILDERS: dict[str, Callable[..., SyntheticInputs]] = {
    "flux": flux_inputs,
    "hunyuan_video": _from_tiny_builder("hunyuan_video_transformer_inputs"),
    "cosmos": cosmos_inputs,
    "wan": _from_tiny_builder("wan_transformer_inputs"),
}


class SyntheticPipeline:
    """A transformer + a FlowMatch Euler scheduler, run on synthetic inputs (see the module doc)."""

    def __init__(self, transformer: torch.nn.Module, family: str, text_len: int | None = None):
        from diffusers import FlowMatchEulerDiscreteScheduler

        if family not in INPUT_BUILDERS:
            raise ArgumentError(f"model: no synthetic inputs for family {family!r}; known: {sorted(INPUT_BUILDERS)}")
        self.transformer = transformer
        self.family = family
        self.scheduler = FlowMatchEulerDiscreteScheduler()
        self.text_len = text_len or DEFAULT_TEXT_LEN[family]

    @property
    def components(self) -> dict[str, Any]:
        return {"transformer": self.transformer, "scheduler": self.scheduler}

    @torch.no_grad()
    def __call__(self, *, grid: tuple[int, ...], num_inference_steps: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
        parameter = next(self.transformer.parameters())
        device, dtype = parameter.device, parameter.dtype
        inputs = INPUT_BUILDERS[self.family](self.transformer, tuple(grid), batch, self.text_len, device, dtype, seed)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        latents = inputs.latents
        for t in self.scheduler.timesteps:
            timestep = t.expand(batch).to(device=device, dtype=torch.float32) * inputs.timestep_scale
            kwargs = {**inputs.kwargs, inputs.latent_key: latents, "timestep": timestep}
            prediction = self.transformer(**kwargs, return_dict=False)[0]
            latents = self.scheduler.step(prediction, t, latents, return_dict=False)[0]
        return latents
