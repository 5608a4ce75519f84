"""Tiny random-weight FLUX.2 (Flux2Transformer2DModel), built from config offline.

Token layout: joint [text, image] attention in double- and single-stream blocks; the image tokens
are a row-major (height, width) grid of 2x2-patchified latents, reference images (``image=``)
follow as grids of their own. Two presets: ``tiny-flux2`` is a Flux2Pipeline (tiny Mistral 3 text
encoder; guidance-distilled: one transformer call per step) and ``tiny-flux2-klein`` a
Flux2KleinPipeline (tiny Qwen 3; not distilled: true classifier-free guidance, two calls per step).
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from ._requirements import config_arguments, require_preset

TINY_FLUX2_TEXT_LAYERS = (1, 2, 3)  # hidden states the pipelines stack (FLUX.2-dev: (10, 20, 30))
TINY_FLUX2_TEXT_HIDDEN = 16  # tiny Mistral 3 / Qwen 3 hidden size
TINY_FLUX2_TEXT_DIM = len(TINY_FLUX2_TEXT_LAYERS) * TINY_FLUX2_TEXT_HIDDEN  # joint_attention_dim
TINY_FLUX2_LATENT_CHANNELS = 4  # VAE latent channels; the transformer sees 2x2 patches: 16


def tiny_flux2_transformer(seed: int = 0, guidance_embeds: bool = True):
    """2 double- and 2 single-stream blocks, 2 heads x 16; Klein checkpoints have no guidance embedder
    (``guidance_embeds=False``: diffusers >= 0.37; before, every FLUX.2 transformer has one)."""
    from diffusers import Flux2Transformer2DModel

    newer = config_arguments(Flux2Transformer2DModel, "tiny FLUX.2 transformer", {"guidance_embeds": guidance_embeds},
                             older_values={"guidance_embeds": True})
    torch.manual_seed(seed)
    return Flux2Transformer2DModel(
        patch_size=1,
        in_channels=4 * TINY_FLUX2_LATENT_CHANNELS,
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TINY_FLUX2_TEXT_DIM,
        timestep_guidance_channels=32,
        axes_dims_rope=(4, 4, 4, 4),  # (t, h, w, l), sums to head_dim
        **newer,
    ).eval()


def tiny_flux2_vae(seed: int = 0):
    """A 4-block AutoencoderKLFlux2: 8x spatial compression, as FLUX.2's (16 pixels per token)."""
    from diffusers import AutoencoderKLFlux2

    torch.manual_seed(seed)
    return AutoencoderKLFlux2(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=TINY_FLUX2_LATENT_CHANNELS,
        norm_num_groups=4,
        layers_per_block=1,
        sample_size=64,
    ).eval()


def tiny_flux2_pipeline(seed: int = 0):
    """A Flux2Pipeline: tiny transformer, VAE and Mistral 3 text encoder (see _flux2_text.py).

    Called plainly (``pipe("a red fox")``), arguments left out take ``tiny_flux2_call()``'s values.
    """
    FlowMatchEulerDiscreteScheduler, Flux2Pipeline = pipeline_classes("FlowMatchEulerDiscreteScheduler",
                                                                      "Flux2Pipeline")
    from ._flux2_text import tiny_mistral3_text_encoder, tiny_mistral_tokenizer

    tokenizer = tiny_mistral_tokenizer()
    pipe = tiny_pipeline_class(Flux2Pipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=tiny_flux2_vae(seed + 1),
        text_encoder=tiny_mistral3_text_encoder(tokenizer, TINY_FLUX2_TEXT_HIDDEN, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=tiny_flux2_transformer(seed),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_flux2_call())


def tiny_flux2_klein_pipeline(seed: int = 0):
    """A Flux2KleinPipeline (not step-distilled: true CFG): tiny transformer, VAE and Qwen 3 text encoder.
    diffusers >= 0.37 (``TinyPresetUnavailable`` before: no Flux2KleinPipeline)."""
    require_preset("tiny-flux2-klein")
    FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline = pipeline_classes("FlowMatchEulerDiscreteScheduler",
                                                                           "Flux2KleinPipeline")
    from ._flux2_text import tiny_qwen3_text_encoder, tiny_qwen_tokenizer

    tokenizer = tiny_qwen_tokenizer()
    pipe = tiny_pipeline_class(Flux2KleinPipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=tiny_flux2_vae(seed + 1),
        text_encoder=tiny_qwen3_text_encoder(tokenizer, TINY_FLUX2_TEXT_HIDDEN, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=tiny_flux2_transformer(seed, guidance_embeds=False),
        is_distilled=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_flux2_klein_call())


# 256x256 pixels -> 32x32 latents -> 2x2 patches: token grid (H, W) = (16, 16), where flux2_gna's
# window (scaled from its 64x64 grid, snapped to the backend's tiles) does not cover the grid;
# 12 steps, past its 10 dense steps. The pipelines stack hidden states (1, 2, 3) of the tiny
# 3-layer text encoders.
tiny_flux2_call = TinyCall(height=256, width=256, steps=12, pipeline_kwargs={
    "guidance_scale": 4.0, "text_encoder_out_layers": TINY_FLUX2_TEXT_LAYERS})
tiny_flux2_klein_call = TinyCall(height=256, width=256, steps=12, pipeline_kwargs={
    "guidance_scale": 4.0, "text_encoder_out_layers": TINY_FLUX2_TEXT_LAYERS})
