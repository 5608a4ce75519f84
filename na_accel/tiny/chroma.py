"""Tiny random-weight Chroma (ChromaTransformer2DModel, ChromaPipeline), built from config offline.

Token layout: [text, image], as FLUX's; the T5 text is padded to ``max_sequence_length`` and masked
(all but one pad token). diffusers 0.42's ChromaPipeline hands the transformer that mask in the text
encoder's dtype (float 0/1), which SDPA *adds* to the scores (diffusers issue #12116): not a padding
mask, so GNA runs those calls stock, counted (``na_accel.families.chroma``). The tiny pipeline is the
real ChromaPipeline with one difference, the mask's dtype: its text embedding step returns the same
mask as bool, the masking Chroma was trained with, which the stock blocks honour and GNA keeps
(``tiny_chroma_pipeline(bool_mask=False)``: diffusers' float mask, every routed call stock).
"""

from __future__ import annotations

import functools

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes

TINY_CHROMA_TEXT_DIM = 32  # T5 d_model


def tiny_chroma_transformer(seed: int = 0):
    from diffusers import ChromaTransformer2DModel

    torch.manual_seed(seed)
    return ChromaTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TINY_CHROMA_TEXT_DIM,
        axes_dims_rope=(4, 6, 6),
        approximator_num_channels=16,
        approximator_hidden_dim=32,
        approximator_layers=1,
    ).eval()


class BoolTextMask:
    """Mixin before ChromaPipeline: its T5 step's mask (valid tokens plus one pad) returned as bool."""

    def _get_t5_prompt_embeds(self, *args, **kwargs):
        prompt_embeds, attention_mask = super()._get_t5_prompt_embeds(*args, **kwargs)
        return prompt_embeds, attention_mask.bool()


@functools.cache
def _bool_mask_class(base: type) -> type:
    return type(base.__name__, (BoolTextMask, base), {"__module__": __name__, "__doc__": base.__doc__})


def tiny_chroma_pipeline(seed: int = 0, bool_mask: bool = True):
    """A ChromaPipeline: tiny transformer, VAE (scale factor 8), T5 text encoder; with ``bool_mask`` its
    prompt masks are bool (see the module docstring). Called plainly (``pipe("a red fox")``), arguments
    left out take ``tiny_chroma_call()``'s values."""
    AutoencoderKL, ChromaPipeline, FlowMatchEulerDiscreteScheduler = pipeline_classes(
        "AutoencoderKL", "ChromaPipeline", "FlowMatchEulerDiscreteScheduler"
    )
    from ._text import tiny_t5_text_encoder, tiny_t5_tokenizer

    transformer = tiny_chroma_transformer(seed)
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
    tokenizer = tiny_t5_tokenizer()
    cls = tiny_pipeline_class(ChromaPipeline)
    pipe = (_bool_mask_class(cls) if bool_mask else cls)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_CHROMA_TEXT_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_chroma_call())


# 256x256 pixels -> 32x32 latents -> token grid (H, W) = (16, 16), where chroma_gna's window (scaled
# from its 64x64 grid, snapped to the backend's tiles) does not cover the grid; 9 steps, past its
# 7 dense steps. CFG as the pipeline's default: a second transformer call per step with the
# negative prompt (its own padding).
tiny_chroma_call = TinyCall(height=256, width=256, steps=9, pipeline_kwargs={"guidance_scale": 4.0})
