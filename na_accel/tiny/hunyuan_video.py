"""Tiny random-weight HunyuanVideo (HunyuanVideoTransformer3DModel), built from config offline.

Token layout: [video, text]; the video tokens are a row-major (frames, height, width) grid of
1x2x2 latent patches, the text tokens are right-padded and masked by ``encoder_attention_mask``.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes

TINY_HUNYUAN_TEXT_DIM = 32  # Llama hidden size
TINY_HUNYUAN_POOLED_DIM = 24  # CLIP hidden size


def tiny_hunyuan_video_transformer(seed: int = 0):
    from diffusers import HunyuanVideoTransformer3DModel

    torch.manual_seed(seed)
    return HunyuanVideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        num_single_layers=2,
        num_refiner_layers=1,
        patch_size=2,
        patch_size_t=1,
        text_embed_dim=TINY_HUNYUAN_TEXT_DIM,
        pooled_projection_dim=TINY_HUNYUAN_POOLED_DIM,
        rope_axes_dim=(4, 6, 6),
        guidance_embeds=True,
    ).eval()


def tiny_hunyuan_video_prompt_template(tokenizer) -> dict:
    """A short Llama 3 style template for the tiny tokenizer, with its crop_start in tokens.

    The pipeline's default template has a long system prompt and crop_start 95 counted in the real
    Llama 3 tokenizer's tokens; with the one-character-per-token tiny tokenizer it would crop the
    wrong tokens and truncation would drop the prompt.
    """
    prefix = "<|start_header_id|>user<|end_header_id|>"
    crop_start = len(tokenizer(prefix, add_special_tokens=True)["input_ids"])
    return {"template": prefix + "{}<|eot_id|>", "crop_start": crop_start}


def tiny_hunyuan_video_pipeline(seed: int = 0):
    """A HunyuanVideoPipeline: tiny transformer, Llama and CLIP text encoders and a 3D VAE.

    VAE: 8x spatial, 4x temporal compression (as the real one), 4 latent channels. The Llama and
    CLIP tokenizers have one token per character. Called plainly (``pipe("a red fox")``), arguments
    left out take ``tiny_hunyuan_video_call()``'s values, its short ``prompt_template`` included.
    """
    AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline = pipeline_classes(
        "AutoencoderKLHunyuanVideo", "FlowMatchEulerDiscreteScheduler", "HunyuanVideoPipeline"
    )

    from ._text import tiny_clip_text_encoder, tiny_clip_tokenizer, tiny_llama_text_encoder, tiny_llama_tokenizer

    transformer = tiny_hunyuan_video_transformer(seed)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    ).eval()
    tokenizer = tiny_llama_tokenizer()
    tokenizer_2 = tiny_clip_tokenizer()
    pipe = tiny_pipeline_class(HunyuanVideoPipeline)(
        text_encoder=tiny_llama_text_encoder(len(tokenizer), hidden_size=TINY_HUNYUAN_TEXT_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=tiny_clip_text_encoder(tokenizer_2, hidden_size=TINY_HUNYUAN_POOLED_DIM, seed=seed + 3),
        tokenizer_2=tokenizer_2,
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_hunyuan_video_call())


def _prompt_template() -> dict:
    from ._text import tiny_llama_tokenizer

    return {"prompt_template": tiny_hunyuan_video_prompt_template(tiny_llama_tokenizer())}


# 9 frames of 48x128 pixels -> 3 latent frames of 6x16 -> token grid (T, H, W) = (3, 3, 8), plus 32
# text tokens of which only the prompt's are valid (one token per character, plus the end-of-turn
# token); 14 steps: hunyuan_video_gna (scaled from its 30x48x80 grid, snapped to the backend's tiles)
# runs sparse after its 12 dense steps. Guidance-distilled: one transformer call per step
# (true_cfg_scale stays 1). The short prompt template replaces the pipeline's long default one.
tiny_hunyuan_video_call = TinyCall(
    height=48, width=128, num_frames=9, steps=14, pipeline_kwargs={"guidance_scale": 6.0},
    computed_kwargs=_prompt_template,
)
