"""Tiny random-weight LTX-Video (LTXVideoTransformer3DModel), built from config offline.

Token layout: self attention (attn1) over the video tokens only, a row-major (frames, height,
width) grid of 1x1x1 latent patches (the VAE compresses 32x spatially, 8x in time, as the real
one); cross attention (attn2) to the T5 text, masked where it is padding.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from ._requirements import require_preset

TINY_LTX_VIDEO_TEXT_DIM = 32  # T5 d_model
TINY_LTX_VIDEO_LATENT_CHANNELS = 8


def tiny_ltx_video_transformer(seed: int = 0, in_channels: int = TINY_LTX_VIDEO_LATENT_CHANNELS):
    """``in_channels`` = the VAE's latent channels (patch 1x1x1, as every LTX-Video checkpoint)."""
    from diffusers import LTXVideoTransformer3DModel

    torch.manual_seed(seed)
    return LTXVideoTransformer3DModel(
        in_channels=in_channels,
        out_channels=in_channels,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=16,
        cross_attention_dim=32,  # = heads x head_dim: attn2 takes the projected captions
        num_layers=2,
        caption_channels=TINY_LTX_VIDEO_TEXT_DIM,
    ).eval()


def tiny_ltx_video_vae(seed: int = 0):
    """A small AutoencoderKLLTXVideo with the real geometry: patch 4, three 2x spatio-temporal stages
    (32x spatial, 8x temporal compression), 8 latent channels."""
    from diffusers import AutoencoderKLLTXVideo

    torch.manual_seed(seed)
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=TINY_LTX_VIDEO_LATENT_CHANNELS,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    ).eval()
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return vae


def tiny_ltx_video_pipeline(seed: int = 0):
    """An LTXPipeline: tiny transformer, T5 text encoder and LTX-Video VAE (32x spatial, 8x temporal)."""
    require_preset("tiny-ltx-video")
    FlowMatchEulerDiscreteScheduler, LTXPipeline = pipeline_classes("FlowMatchEulerDiscreteScheduler", "LTXPipeline")

    from ._text import tiny_t5_text_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    pipe = tiny_pipeline_class(LTXPipeline)(
        tokenizer=tokenizer,
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_LTX_VIDEO_TEXT_DIM, seed=seed + 2),
        vae=tiny_ltx_video_vae(seed + 1),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        transformer=tiny_ltx_video_transformer(seed),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_ltx_video_call())


# ltx_video_gna's window is 12x12x16 tokens, as written at every grid, and its first 15 steps run
# dense: the default run is 18 tokens wide (the window is narrower) and has 2 steps past the dense ones.
TINY_LTX_VIDEO_STEPS = 17

# 9 frames of 64x576 pixels -> 2 latent frames of 2x18 -> token grid (T, H, W) = (2, 2, 18), 32 text
# tokens, 17 steps: the shipped ltx_video_gna runs sparse in the last 2. Classifier-free guidance is
# on (guidance_scale 3, LTXPipeline's default): the transformer runs twice per step. The output is a
# (B, F, H, W, 3) array.
tiny_ltx_video_call = TinyCall(
    height=64, width=576, num_frames=9, steps=TINY_LTX_VIDEO_STEPS, output_type="np",
    pipeline_kwargs={"guidance_scale": 3.0},
)
