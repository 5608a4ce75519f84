"""Tiny random-weight Wan 2.x (WanTransformer3DModel), built from config offline.

Token layout: self-attention (attn1) over the video tokens only, a row-major (frames, height,
width) grid of 1x2x2 latent patches; cross-attention (attn2) to the text (and image tokens for
image-to-video checkpoints).
"""

from __future__ import annotations

import dataclasses

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from ._requirements import require_preset

TINY_WAN_TEXT_DIM = 32  # UMT5 d_model


def tiny_wan_block_config(in_channels: int) -> dict:
    """The tiny Wan blocks' config (2 blocks, 2 heads x 16), shared by the Wan-derived tiny transformers
    (SkyReels-V2, Wan-VACE): ``in_channels`` = the VAE's latent channels."""
    return dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=in_channels,
                out_channels=in_channels, text_dim=TINY_WAN_TEXT_DIM, freq_dim=32, ffn_dim=64, num_layers=2,
                cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32)


def tiny_wan_transformer(seed: int = 0, in_channels: int = 4):
    """``in_channels`` = the VAE's latent channels (4 for the tiny pipelines' VAE)."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        **tiny_wan_block_config(in_channels),
    ).eval()


# Wan 2.2 A14B text-to-video switches from the high-noise to the low-noise expert at t = 0.875 * 1000,
# and samples with flow shift 12 (Wan 2.1's 480p text-to-video: 3).
TINY_WAN_BOUNDARY_RATIO = 0.875
TINY_WAN22_SHIFT = 12.0
TINY_WAN_SHIFT = 3.0


def tiny_wan_vae(seed: int = 0, z_dim: int = 4):
    """A small AutoencoderKLWan: 8x spatial, 4x temporal compression, ``z_dim`` latent channels."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(
        base_dim=3,
        z_dim=z_dim,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * z_dim,
        latents_std=[1.0] * z_dim,
    ).eval()


def tiny_wan_pipeline(seed: int = 0, two_stage: bool = False):
    """A WanPipeline: tiny transformer, UMT5 text encoder and Wan VAE (8x spatial, 4x temporal).

    ``two_stage=True`` gives a Wan 2.2 A14B-style pipeline: ``transformer`` (high noise, t >= 875)
    and ``transformer_2`` (low noise) with ``boundary_ratio`` 0.875 and shift 12: a 2-step
    generation's timesteps are 1000 and ~126, so each transformer runs one step (twice, with
    classifier-free guidance); the first expert runs ~60% of a longer run's steps.
    Before diffusers 0.37 WanPipeline needs ftfy for its prompts (``TinyPresetUnavailable`` without it).
    """
    require_preset("tiny-wan2.2" if two_stage else "tiny-wan")
    FlowMatchEulerDiscreteScheduler, WanPipeline = pipeline_classes("FlowMatchEulerDiscreteScheduler", "WanPipeline")

    from ._text import tiny_t5_text_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    pipe = tiny_pipeline_class(WanPipeline)(
        tokenizer=tokenizer,
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_WAN_TEXT_DIM, umt5=True, seed=seed + 2),
        vae=tiny_wan_vae(seed + 1),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=TINY_WAN22_SHIFT if two_stage else TINY_WAN_SHIFT),
        transformer=tiny_wan_transformer(seed),
        transformer_2=tiny_wan_transformer(seed + 10) if two_stage else None,
        boundary_ratio=TINY_WAN_BOUNDARY_RATIO if two_stage else None,
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_wan22_call() if two_stage else tiny_wan_call())


# wan_gna's window is 14x24x24 tokens, as written at every grid, and its first 15 steps run dense:
# the default run is 32 tokens wide (the window is narrower) and has 2 steps past the dense ones.
TINY_WAN_STEPS = 17
# Wan 2.2: the first expert runs the steps with t >= 875, ~60% of them with shift 12: 27 steps give it
# 17, 2 of them past the 15 dense steps, so both experts run sparse.
TINY_WAN22_STEPS = 27


# 9 frames of 48x512 pixels -> 3 latent frames of 6x64 -> token grid (T, H, W) = (3, 3, 32), 32 text
# tokens, 17 steps: the shipped wan_gna runs sparse in the last 2. Classifier-free guidance is on
# (guidance_scale 5, empty negative prompt): the transformer runs twice per step. The output is a
# (B, F, H, W, 3) array. With a two-stage pipeline, 2 steps run ``transformer`` at step 0 and
# ``transformer_2`` at step 1; ``tiny_wan22_call`` gives the two-stage default run.
tiny_wan_call = TinyCall(
    height=48, width=512, num_frames=9, steps=TINY_WAN_STEPS, output_type="np", pipeline_kwargs={"guidance_scale": 5.0},
)
tiny_wan22_call = dataclasses.replace(tiny_wan_call, steps=TINY_WAN22_STEPS)
