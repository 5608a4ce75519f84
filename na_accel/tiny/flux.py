"""Tiny random-weight pipelines, built from config offline: for the demo, the tests and CI.

They have the real model classes and token layouts at toy width (2 heads x head_dim 16), so
every code path of a full-size model runs in milliseconds on a CPU. Their outputs are noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._grid import generation_kwargs
from ._imports import pipeline_classes


@dataclass
class FluxPromptEmbeds:
    """Stand-ins for the text encoders' outputs (the tiny pipeline has no text encoders)."""

    prompt_embeds: torch.Tensor
    pooled_prompt_embeds: torch.Tensor

    def as_kwargs(self, prefix: str = "") -> dict[str, torch.Tensor]:
        return {
            f"{prefix}prompt_embeds": self.prompt_embeds,
            f"{prefix}pooled_prompt_embeds": self.pooled_prompt_embeds,
        }


TINY_FLUX_TEXT_DIM = 32
TINY_FLUX_POOLED_DIM = 32


def tiny_flux_transformer(seed: int = 0):
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(seed)
    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TINY_FLUX_TEXT_DIM,
        pooled_projection_dim=TINY_FLUX_POOLED_DIM,
        guidance_embeds=True,
        axes_dims_rope=(4, 6, 6),
    ).eval()


def tiny_flux_pipeline(seed: int = 0):
    """A FluxPipeline with a tiny transformer and VAE (scale factor 8), no text encoders."""
    AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline = pipeline_classes(
        "AutoencoderKL", "FlowMatchEulerDiscreteScheduler", "FluxPipeline"
    )

    transformer = tiny_flux_transformer(seed)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        norm_num_groups=4,
        layers_per_block=1,
        shift_factor=0.0,
        scaling_factor=1.0,
    ).eval()
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        text_encoder_2=None,
        tokenizer_2=None,
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_flux_prompt(seed: int = 0, batch: int = 1, text_len: int = 8) -> FluxPromptEmbeds:
    generator = torch.Generator().manual_seed(seed)
    return FluxPromptEmbeds(
        prompt_embeds=torch.randn(batch, text_len, TINY_FLUX_TEXT_DIM, generator=generator),
        pooled_prompt_embeds=torch.randn(batch, TINY_FLUX_POOLED_DIM, generator=generator),
    )


def flux_transformer_inputs(
    height: int, width: int, batch: int = 1, text_len: int = 8, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Random inputs for a bare tiny FLUX transformer over a (height x width) token grid."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    img_ids = torch.stack([torch.zeros_like(rows), rows, cols], dim=1).float()
    return {
        "hidden_states": torch.randn(batch, height * width, 16, generator=generator),
        "encoder_hidden_states": torch.randn(batch, text_len, TINY_FLUX_TEXT_DIM, generator=generator),
        "pooled_projections": torch.randn(batch, TINY_FLUX_POOLED_DIM, generator=generator),
        "timestep": torch.full((batch,), 0.5),
        "guidance": torch.full((batch,), 3.5),
        "img_ids": img_ids,
        "txt_ids": torch.zeros(text_len, 3),
    }


def tiny_flux_call(
    height: int = 80,
    width: int = 112,
    steps: int = 2,
    seed: int = 0,
    batch: int = 1,
    true_cfg: bool = False,
    **extra,
) -> dict:
    """Call kwargs for a small tiny-FLUX generation (``pipe(**kwargs).images``).

    Defaults: 80x112 pixels -> 10x14 latents -> token grid (H, W) = (5, 7), 8 text tokens (random
    prompt embeddings: the tiny pipeline has no text encoders). Guidance-distilled: one
    transformer call per step, two with ``true_cfg`` (true_cfg_scale 2 and negative embeddings).
    ``extra`` overrides or adds kwargs.
    """
    prompt = dict(tiny_flux_prompt(seed=seed + 1, batch=batch).as_kwargs())
    if true_cfg:
        prompt.update(tiny_flux_prompt(seed=seed + 2, batch=batch).as_kwargs("negative_"), true_cfg_scale=2.0)
    return generation_kwargs(
        height=height, width=width, steps=steps, seed=seed, output_type="pt", guidance_scale=3.5,
        overrides=extra, **prompt,
    )
