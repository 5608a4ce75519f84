"""Tiny random-weight Wan 2.x (WanTransformer3DModel), built from config offline.

Token layout: self-attention (attn1) over the video tokens only, a row-major (frames, height,
width) grid of 1x2x2 latent patches; cross-attention (attn2) to the text (and image tokens for
image-to-video checkpoints).
"""

from __future__ import annotations

import torch

from ._defaults import tiny_pipeline_class, with_call_defaults
from ._grid import check_grid, generation_kwargs, patch_sizes, randn
from ._imports import pipeline_classes

TINY_WAN_TEXT_DIM = 32  # UMT5 d_model
WAN_IMAGE_TOKENS = 257  # CLIP ViT-H/14 image tokens of the Wan 2.1 image-to-video checkpoints


def tiny_wan_transformer(seed: int = 0, in_channels: int = 4):
    """``in_channels`` = the VAE's latent channels (4 for the tiny pipelines' VAE)."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=in_channels,
        out_channels=in_channels,
        text_dim=TINY_WAN_TEXT_DIM,
        freq_dim=32,
        ffn_dim=64,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    ).eval()


def wan_transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any WanTransformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, in_channels, T * p_t, H * p_h, W * p_w). Image-to-video configs
    (``image_dim`` set) also get ``encoder_hidden_states_image``: 257 image tokens per sample, or
    two images' worth when the config has ``pos_embed_seq_len`` (first-last-frame checkpoints).
    """
    frames, height, width = check_grid(grid, batch)
    config = transformer.config
    p_t, p_h, p_w = patch_sizes(config.patch_size)
    generator = torch.Generator().manual_seed(seed)
    inputs = {
        "hidden_states": randn(
            (batch, config.in_channels, frames * p_t, height * p_h, width * p_w), generator, device, dtype
        ),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, text_len, config.text_dim), generator, device, dtype),
    }
    if config.image_dim is not None:
        if config.pos_embed_seq_len:
            # WanImageEmbedding folds pairs of images into one sequence of pos_embed_seq_len tokens
            shape = (2 * batch, config.pos_embed_seq_len // 2, config.image_dim)
        else:
            shape = (batch, WAN_IMAGE_TOKENS, config.image_dim)
        inputs["encoder_hidden_states_image"] = randn(shape, generator, device, dtype)
    return inputs


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
    """
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


def tiny_wan_call(
    height: int = 48,
    width: int = 512,
    num_frames: int = 9,
    steps: int = TINY_WAN_STEPS,
    seed: int = 0,
    prompt="a red fox in the snow",
    max_sequence_length: int = 32,
    **extra,
) -> dict:
    """Call kwargs for a small WanPipeline generation (``pipe(**kwargs).frames``, a (B, F, H, W, 3) array).

    Defaults: 9 frames of 48x512 pixels -> 3 latent frames of 6x64 -> token grid (T, H, W) = (3, 3, 32),
    ``max_sequence_length`` (32) text tokens, 17 steps: the shipped wan_gna runs sparse in the last 2.
    Classifier-free guidance is on (guidance_scale 5, empty negative prompt): the transformer runs
    twice per step. With a two-stage pipeline, 2 steps run ``transformer`` at step 0 and
    ``transformer_2`` at step 1 (``tiny_wan22_call`` gives the two-stage default run).
    ``extra`` overrides or adds kwargs.
    """
    return generation_kwargs(
        height=height, width=width, steps=steps, seed=seed, output_type="np", prompt=prompt,
        num_frames=num_frames, guidance_scale=5.0, max_sequence_length=max_sequence_length, overrides=extra,
    )


def tiny_wan22_call(steps: int = TINY_WAN22_STEPS, **kwargs) -> dict:
    """``tiny_wan_call`` with the two-stage (Wan 2.2) pipeline's default steps: 27, so that each
    expert runs steps past wan_gna's 15 dense ones (the first expert runs the first 17)."""
    return tiny_wan_call(steps=steps, **kwargs)
