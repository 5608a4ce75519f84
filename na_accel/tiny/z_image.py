"""Tiny random-weight Z-Image (ZImageTransformer2DModel, ZImagePipeline), built from config offline.

Token layout of the main layers: [image, caption] per row, each padded to a multiple of 32 with a
learned pad token; the image tokens are a row-major (height, width) grid of 2x2 latent patches. The
captions are the second-to-last hidden states of a tiny Qwen 3 (one token per character, Qwen's chat
template), each prompt its own length: under classifier-free guidance the rows' joint sequences
differ in length and the forward masks the shorter ones' tail.
"""

from __future__ import annotations

import functools

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes

TINY_Z_IMAGE_TEXT_DIM = 16  # the tiny Qwen 3's hidden size
TINY_Z_IMAGE_LATENT_CHANNELS = 4  # the tiny VAE's latent channels; the transformer patchifies 2x2 of them


def tiny_z_image_transformer(seed: int = 0):
    """2 main layers (and 1 noise / 1 context refiner layer), 2 heads x 16 (RoPE axes 4 + 6 + 6)."""
    from diffusers import ZImageTransformer2DModel

    torch.manual_seed(seed)
    return ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=TINY_Z_IMAGE_LATENT_CHANNELS,
        dim=32,
        n_layers=2,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        cap_feat_dim=TINY_Z_IMAGE_TEXT_DIM,
        axes_dims=[4, 6, 6],
        axes_lens=[512, 128, 128],
    ).eval()


def tiny_z_image_vae(seed: int = 0):
    """An AutoencoderKL (FLUX's kind, as Z-Image's): 8x spatial compression, 4 latent channels."""
    (AutoencoderKL,) = pipeline_classes("AutoencoderKL")
    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=TINY_Z_IMAGE_LATENT_CHANNELS,
        norm_num_groups=4,
        layers_per_block=1,
        shift_factor=0.0,
        scaling_factor=1.0,
    ).eval()


class _CallersPromptsKept:
    """ZImagePipeline's ``_encode_prompt`` writes the chat-templated prompts into the list it is
    given (diffusers 0.42): a caller's prompt list, reused for a second call, would be templated
    twice. The tiny pipeline encodes a copy, leaving the caller's list as it was."""

    def _encode_prompt(self, prompt, *args, **kwargs):
        return super()._encode_prompt(list(prompt) if isinstance(prompt, list) else prompt, *args, **kwargs)


@functools.cache
def _tiny_z_image_pipeline_class(base: type) -> type:
    """The tiny ZImagePipeline class (call defaults, the caller's prompts kept), under the real name."""
    return type(base.__name__, (_CallersPromptsKept, tiny_pipeline_class(base)),
                {"__module__": __name__, "__doc__": base.__doc__})


def tiny_z_image_pipeline(seed: int = 0):
    """A ZImagePipeline: tiny transformer, VAE, Qwen 3 text encoder and Qwen tokenizer (one token per
    character). Called plainly (``pipe("a red fox")``), arguments left out take ``tiny_z_image_call()``'s."""
    FlowMatchEulerDiscreteScheduler, ZImagePipeline = pipeline_classes("FlowMatchEulerDiscreteScheduler",
                                                                       "ZImagePipeline")

    from ._flux2_text import tiny_qwen3_text_encoder, tiny_qwen_tokenizer

    tokenizer = tiny_qwen_tokenizer()
    pipe = _tiny_z_image_pipeline_class(ZImagePipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=tiny_z_image_vae(seed + 1),
        text_encoder=tiny_qwen3_text_encoder(tokenizer, hidden_size=TINY_Z_IMAGE_TEXT_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=tiny_z_image_transformer(seed),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_z_image_call())


# z_image_gna runs its first 10 steps dense; 12 steps leave 2 sparse ones.
TINY_Z_IMAGE_STEPS = 12

# 256x256 pixels -> 32x32 latents -> token grid (H, W) = (16, 16), where z_image_gna's window (scaled
# from its 64x64 grid, snapped to the backend's tiles) is smaller than the grid. ZImagePipeline's
# classifier-free guidance (guidance_scale 5 by default): prompt and empty negative prompt in one
# batch. 64 text tokens (the chat template alone is 19 of the tiny tokenizer's): a long prompt's
# caption pads to 64, a short one's to 32, and the forward masks the difference.
tiny_z_image_call = TinyCall(
    height=256, width=256, steps=TINY_Z_IMAGE_STEPS,
    pipeline_kwargs={"max_sequence_length": 64},
)
