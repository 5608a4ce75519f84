"""Tiny random-weight Qwen-Image (QwenImageTransformer2DModel, QwenImagePipeline), built from config offline.

Token layout: [text, image]; the image tokens are a row-major (height, width) grid of 2x2-packed
latents, given to the transformer as ``img_shapes``. The text is the last hidden states of a tiny
Qwen2.5-VL language model (HunyuanVideo 1.5's stand-in: the pipeline only reads its text hidden
states), right-padded to the batch's longest prompt and masked by ``encoder_hidden_states_mask``.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from ._requirements import config_arguments

TINY_QWEN_TEXT_DIM = 32  # the tiny Qwen2.5-VL's hidden size
TINY_QWEN_LATENT_CHANNELS = 4  # the tiny VAE's z_dim; the transformer sees 2x2 packs of them

# The real pipeline's prompt template (Qwen's chat format) with a one-line system prompt: the real
# one is long, and its prompt_template_encode_start_idx (34) counts the real tokenizer's tokens, not
# the tiny one's characters.
TINY_QWEN_SYSTEM_MESSAGE = "Describe the image."
TINY_QWEN_PROMPT_TEMPLATE = (
    f"<|im_start|>system\n{TINY_QWEN_SYSTEM_MESSAGE}<|im_end|>\n<|im_start|>user\n{{}}<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def tiny_qwen_image_transformer(seed: int = 0, zero_cond_t: bool = False):
    """``zero_cond_t``: Qwen-Image-Edit-2511's timestep-zero modulation of the reference images
    (diffusers >= 0.37; ``TinyPresetUnavailable`` before)."""
    from diffusers import QwenImageTransformer2DModel

    newer = config_arguments(QwenImageTransformer2DModel, "tiny Qwen-Image transformer", {"zero_cond_t": zero_cond_t},
                             older_values={"zero_cond_t": False})
    torch.manual_seed(seed)
    return QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=4 * TINY_QWEN_LATENT_CHANNELS,
        out_channels=TINY_QWEN_LATENT_CHANNELS,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TINY_QWEN_TEXT_DIM,
        axes_dims_rope=(4, 6, 6),
        **newer,
    ).eval()


def tiny_qwen_image_vae(seed: int = 0):
    """A small AutoencoderKLQwenImage: 8x spatial compression, 4 latent channels."""
    from diffusers import AutoencoderKLQwenImage

    torch.manual_seed(seed)
    z_dim = TINY_QWEN_LATENT_CHANNELS
    return AutoencoderKLQwenImage(
        base_dim=3,
        z_dim=z_dim,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * z_dim,
        latents_std=[1.0] * z_dim,
    ).eval()


def tiny_qwen_image_pipeline(seed: int = 0):
    """A QwenImagePipeline: tiny transformer, Qwen2.5-VL text model, Qwen2 tokenizer (one token per
    character) and VAE.

    The prompt template is the real one with a short system prompt (``TINY_QWEN_PROMPT_TEMPLATE``),
    its drop index counted in the tiny tokenizer's tokens. Called plainly (``pipe("a red fox")``),
    arguments left out take ``tiny_qwen_image_call()``'s values.
    """
    FlowMatchEulerDiscreteScheduler, QwenImagePipeline = pipeline_classes(
        "FlowMatchEulerDiscreteScheduler", "QwenImagePipeline"
    )

    from ._qwen_text import chat_prefix_tokens, tiny_qwen25_vl_text_encoder, tiny_qwen2_tokenizer

    tokenizer = tiny_qwen2_tokenizer()
    pipe = tiny_pipeline_class(QwenImagePipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=tiny_qwen_image_vae(seed + 1),
        text_encoder=tiny_qwen25_vl_text_encoder(len(tokenizer), hidden_size=TINY_QWEN_TEXT_DIM, num_layers=2,
                                                 seed=seed + 2),
        tokenizer=tokenizer,
        transformer=tiny_qwen_image_transformer(seed),
    )
    pipe.prompt_template_encode = TINY_QWEN_PROMPT_TEMPLATE
    pipe.prompt_template_encode_start_idx = chat_prefix_tokens(tokenizer, TINY_QWEN_SYSTEM_MESSAGE)
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_qwen_image_call())


# qwen_image_gna runs its first 10 steps dense; 12 steps leave 2 sparse ones.
TINY_QWEN_IMAGE_STEPS = 12

# 256x256 pixels -> 32x32 latents -> token grid (H, W) = (16, 16), where qwen_image_gna's window
# (scaled from its 64x64 grid, snapped to the backend's tiles) is smaller than the grid. True CFG
# (the pipeline's true_cfg_scale 4 with the model card's negative prompt " "): two transformer
# calls per step, with different text lengths.
tiny_qwen_image_call = TinyCall(
    height=256, width=256, steps=TINY_QWEN_IMAGE_STEPS,
    pipeline_kwargs={"negative_prompt": " ", "true_cfg_scale": 4.0},
)
