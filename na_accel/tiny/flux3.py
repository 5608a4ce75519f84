"""Tiny random-weight FLUX.3 (Flux3Transformer2DModel; a modular Flux3AutoBlocks pipeline), built offline.

Token layout: per-mode blocks (text, image, reference images: each attends within its mode, stock),
then joint single blocks over [text, image, reference images] (GNA); the image tokens are a
row-major (height, width) grid of 2x2-packed latents, each reference image (``image=``) a grid of
its own. FLUX.3 has no classic pipeline: the preset is a ModularPipeline of Flux3AutoBlocks with
the prompt upsampler step popped (its documented way to encode a prompt as given; the upsampler is
a Qwen3.5 chat model), a tiny Qwen3-VL text encoder (_qwen3vl_text.py), a tiny AutoencoderKLFlux2
and CFG through the blocks' ClassifierFreeGuidance guider (one transformer call per branch). The
text step takes one prompt per call (diffusers raises on a list) and pads it to a multiple of 80
tokens, unmasked: FLUX.3 attends to its padding.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_modular_pipeline

TINY_FLUX3_TEXT_LAYERS = (1, 2, 3)  # the tiny 3-layer text encoder's hidden states, stacked
TINY_FLUX3_TEXT_DIM = 16 * len(TINY_FLUX3_TEXT_LAYERS)
TINY_FLUX3_LATENT_CHANNELS = 4  # packed 2x2: 16 channels per token


def tiny_flux3_transformer(seed: int = 0, flow_map: bool = False):
    from diffusers import Flux3Transformer2DModel

    torch.manual_seed(seed)
    return Flux3Transformer2DModel(
        in_channels=4 * TINY_FLUX3_LATENT_CHANNELS,
        cond_in_channels=4 * TINY_FLUX3_LATENT_CHANNELS,
        num_layers=1,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TINY_FLUX3_TEXT_DIM,
        timestep_channels=32,
        axes_dims_rope=(4, 4, 4, 4),  # (t, h, w, l), sums to head_dim
        flow_map=flow_map,
    ).eval()


def tiny_flux3_pipeline(seed: int = 0):
    """A modular FLUX.3 pipeline (Flux3AutoBlocks less the prompt upsampler): tiny transformer, VAE
    (8x, as FLUX.3's) and Qwen3-VL text encoder. ``pipe(prompt="a red fox")`` returns the blocks'
    PipelineState, ``pipe(prompt=..., output="images")`` the images; left-out arguments take
    ``tiny_flux3_call()``'s values."""
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler
    from diffusers.guiders import ClassifierFreeGuidance
    from diffusers.modular_pipelines import Flux3AutoBlocks
    from diffusers.modular_pipelines.flux3.image_processor import Flux3ImageProcessor

    from ._qwen3vl_text import tiny_qwen3vl_text_encoder, tiny_qwen3vl_tokenizer

    blocks = Flux3AutoBlocks()
    blocks.sub_blocks.pop("prompt_upsampler")
    transformer = tiny_flux3_transformer(seed)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLFlux2(in_channels=3, out_channels=3, block_out_channels=(8, 8, 8, 8),
                             latent_channels=TINY_FLUX3_LATENT_CHANNELS, norm_num_groups=4, layers_per_block=1,
                             sample_size=64).eval()
    tokenizer = tiny_qwen3vl_tokenizer()
    components = {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": tiny_qwen3vl_text_encoder(tokenizer, seed=seed + 2),
        "tokenizer": tokenizer,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=6.93),  # the blocks' default scheduler config
        "guider": ClassifierFreeGuidance(guidance_scale=3.5),  # the blocks' default guider config
        "image_processor": Flux3ImageProcessor(),
    }
    return tiny_modular_pipeline(blocks, components, tiny_flux3_call())


# 256x256 pixels -> 32x32 latents -> token grid (H, W) = (16, 16), where flux3_gna's window (scaled
# from its 64x64 grid, snapped to the backend's tiles) does not cover the grid; 12 steps, past its
# 10 dense steps. Modular: the step count is num_inference_steps, the output a PipelineState.
tiny_flux3_call = TinyCall(height=256, width=256, steps=12, output_type="pt",
                           pipeline_kwargs={"text_encoder_out_layers": TINY_FLUX3_TEXT_LAYERS})
