"""Tiny random-weight Cosmos (CosmosTransformer3DModel), built from config offline.

Token layout: self-attention (attn1) over the video tokens only, a row-major (frames, height,
width) grid of 1x2x2 latent patches; cross-attention (attn2) to the text. Cosmos 2 text-to-image
has ONE latent frame.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes

TINY_COSMOS_TEXT_DIM = 32  # T5 d_model
# Short: the pipeline's long default negative prompt would be truncated at 32 tokens.
COSMOS_NEGATIVE_PROMPT = "blurry, low quality"
# cosmos_gna's window is 12x28x40 tokens, as written at every grid, and its first 10 steps run dense:
# the default run is 44 tokens wide (the window is narrower) and has 2 steps past the dense ones.
TINY_COSMOS_WIDTH = 704
TINY_COSMOS_STEPS = 12


def tiny_cosmos_transformer(seed: int = 0, in_channels: int = 4):
    """``in_channels`` = the VAE's latent channels (4 for the tiny pipelines' VAEs).

    ``concat_padding_mask=False``: True resizes the padding mask with torchvision, not installed.
    """
    from diffusers import CosmosTransformer3DModel

    torch.manual_seed(seed)
    return CosmosTransformer3DModel(
        in_channels=in_channels,
        out_channels=in_channels,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        mlp_ratio=2.0,
        text_embed_dim=TINY_COSMOS_TEXT_DIM,
        adaln_lora_dim=4,
        max_size=(4, 32, 128),  # latent frames, height, width (the learnable position embeddings)
        patch_size=(1, 2, 2),
        rope_scale=(2.0, 1.0, 1.0),
        concat_padding_mask=False,
        extra_pos_embed_type="learnable",
    ).eval()


def tiny_cosmos_vae(seed: int = 0, latent_channels: int = 4):
    """A small AutoencoderKLCosmos: 8x spatial, 4x temporal compression (Haar wavelet patcher).

    The real Cosmos-Predict1 tokenizer compresses 8x in time too; 4x keeps a 3-latent-frame video
    at 9 frames instead of 17 (its decoder is the slowest part of a tiny generation).
    """
    from diffusers import AutoencoderKLCosmos

    torch.manual_seed(seed)
    return AutoencoderKLCosmos(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        encoder_block_out_channels=(8, 8, 8, 8),
        decode_block_out_channels=(8, 8, 8, 8),
        attention_resolutions=(8,),
        resolution=64,
        num_layers=1,
        patch_size=4,
        patch_type="haar",
        scaling_factor=1.0,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        latents_mean=None,
        latents_std=None,
    ).eval()


def tiny_cosmos_pipeline(seed: int = 0):
    """A CosmosTextToWorldPipeline (Cosmos-Predict1): tiny transformer, T5 encoder, Cosmos VAE.

    Scheduler: EDMEulerScheduler with Cosmos-Predict1's settings. The safety checker is a stand-in
    that passes everything (Cosmos Guardrail is not installed and is a large model).
    """
    CosmosTextToWorldPipeline, EDMEulerScheduler = pipeline_classes("CosmosTextToWorldPipeline", "EDMEulerScheduler")

    from ._text import SafetyCheckerStandIn, tiny_t5_text_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    scheduler = EDMEulerScheduler(
        sigma_min=0.002,
        sigma_max=80.0,
        sigma_data=0.5,
        sigma_schedule="karras",
        num_train_timesteps=1000,
        prediction_type="epsilon",
        rho=7.0,
        final_sigmas_type="sigma_min",
    )
    pipe = tiny_pipeline_class(CosmosTextToWorldPipeline)(
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_COSMOS_TEXT_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=tiny_cosmos_transformer(seed),
        vae=tiny_cosmos_vae(seed + 1),
        scheduler=scheduler,
        safety_checker=SafetyCheckerStandIn(),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_cosmos_call())


# 9 frames of 48x704 pixels -> 3 latent frames of 6x88 (the tiny VAE compresses 8x8 x4) -> token grid
# (T, H, W) = (3, 3, 44), 32 text tokens, 12 steps: the shipped cosmos_gna runs sparse in the last 2
# (its window is narrower than 44). Classifier-free guidance is on (guidance_scale 7): the transformer
# runs twice per step. A short negative prompt replaces the pipeline's long default one, which the
# 32-token limit would truncate.
tiny_cosmos_call = TinyCall(
    height=48, width=TINY_COSMOS_WIDTH, num_frames=9, steps=TINY_COSMOS_STEPS,
    pipeline_kwargs={"negative_prompt": COSMOS_NEGATIVE_PROMPT, "guidance_scale": 7.0},
)


def tiny_cosmos2_text_to_image_pipeline(seed: int = 0):
    """A Cosmos2TextToImagePipeline (Cosmos-Predict2): tiny transformer, T5 encoder, Wan VAE.

    Images are one latent frame: the transformer sees F = 1. The VAE is the tiny Wan one
    (8x spatial); the safety checker is a stand-in that passes everything.
    """
    Cosmos2TextToImagePipeline, FlowMatchEulerDiscreteScheduler = pipeline_classes(
        "Cosmos2TextToImagePipeline", "FlowMatchEulerDiscreteScheduler"
    )

    from ._text import SafetyCheckerStandIn, tiny_t5_text_encoder, tiny_t5_tokenizer
    from .wan import tiny_wan_vae

    tokenizer = tiny_t5_tokenizer()
    pipe = tiny_pipeline_class(Cosmos2TextToImagePipeline)(
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_COSMOS_TEXT_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=tiny_cosmos_transformer(seed),
        vae=tiny_wan_vae(seed + 1),
        scheduler=FlowMatchEulerDiscreteScheduler(use_karras_sigmas=True),
        safety_checker=SafetyCheckerStandIn(),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_cosmos2_text_to_image_call())


# 48x704 pixels -> one latent frame of 6x88 -> token grid (T, H, W) = (1, 3, 44), 32 text tokens,
# 12 steps: the shipped cosmos_gna runs sparse (2-D over height x width) in the last 2.
# Classifier-free guidance is on (guidance_scale 7): the transformer runs twice per step.
tiny_cosmos2_text_to_image_call = TinyCall(
    height=48, width=TINY_COSMOS_WIDTH, steps=TINY_COSMOS_STEPS,
    pipeline_kwargs={"negative_prompt": COSMOS_NEGATIVE_PROMPT, "guidance_scale": 7.0},
)
