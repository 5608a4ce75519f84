"""Tiny random-weight FLUX (FluxTransformer2DModel, FluxPipeline), built from config offline.

Token layout: [text, image]; the image tokens are a row-major (height, width) grid of 2x2-packed
latents. The pipeline has tiny CLIP and T5 text encoders, so it takes prompt text; the tests, the
demo and bare transformers can pass random prompt embeddings instead (``tiny_flux_prompt``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._defaults import tiny_pipeline_class, with_call_defaults
from ._call import TinyCall
from ._imports import pipeline_classes


@dataclass
class FluxPromptEmbeds:
    """Random prompt embeddings of the text encoders' shapes (to skip the text encoders)."""

    prompt_embeds: torch.Tensor
    pooled_prompt_embeds: torch.Tensor

    def as_kwargs(self, prefix: str = "") -> dict[str, torch.Tensor]:
        return {
            f"{prefix}prompt_embeds": self.prompt_embeds,
            f"{prefix}pooled_prompt_embeds": self.pooled_prompt_embeds,
        }


TINY_FLUX_TEXT_DIM = 32  # T5 d_model
TINY_FLUX_POOLED_DIM = 32  # CLIP hidden size


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
    """A FluxPipeline: tiny transformer, VAE (scale factor 8), CLIP and T5 text encoders.

    Called plainly (``pipe("a red fox")``), arguments left out take ``tiny_flux_call()``'s values.
    """
    AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline = pipeline_classes(
        "AutoencoderKL", "FlowMatchEulerDiscreteScheduler", "FluxPipeline"
    )

    from ._text import tiny_clip_text_encoder, tiny_clip_tokenizer, tiny_t5_text_encoder, tiny_t5_tokenizer

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
    tokenizer, tokenizer_2 = tiny_clip_tokenizer(), tiny_t5_tokenizer()
    pipe = tiny_pipeline_class(FluxPipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=tiny_clip_text_encoder(tokenizer, hidden_size=TINY_FLUX_POOLED_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        text_encoder_2=tiny_t5_text_encoder(len(tokenizer_2), d_model=TINY_FLUX_TEXT_DIM, seed=seed + 3),
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_flux_call())


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


# 256x256 pixels -> 32x32 latents -> token grid (H, W) = (16, 16), where flux_gna's window (scaled
# from its 256x256 grid, snapped to the backend's tiles) is smaller than the grid: it runs sparse.
# Guidance-distilled: one transformer call per step (two with true_cfg_scale and a negative_prompt).
tiny_flux_call = TinyCall(height=256, width=256, steps=2, pipeline_kwargs={"guidance_scale": 3.5})
