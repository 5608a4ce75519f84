"""Tiny random-weight Wan-VACE (WanVACETransformer3DModel) and a WanVACEPipeline, built offline.

Token layout: self attention over the video tokens in the Wan blocks (``blocks.<i>.attn1``) and the
VACE context blocks (``vace_blocks.<j>.attn1``, over the control tokens of the same grid); cross
attention (attn2) to the text.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from ._requirements import TinyPresetUnavailable, require_preset
from .wan import TINY_WAN_SHIFT, TINY_WAN_TEXT_DIM, tiny_wan_block_config, tiny_wan_vae

TINY_VACE_Z_DIM = 4  # the tiny Wan VAE's latent channels
# WanVACEPipeline's control latent: the inactive and reactive video latents (2 x z_dim) and the mask
# folded to 8 x 8 = 64 channels (the VAE's spatial factor squared): 96 for the real 16-channel VAE.
TINY_VACE_IN_CHANNELS = 2 * TINY_VACE_Z_DIM + 64


def tiny_wan_vace_transformer(seed: int = 0, in_channels: int = TINY_VACE_Z_DIM):
    """Two Wan blocks and one VACE block, whose hint goes into block 0 (three self attentions)."""
    from diffusers import WanVACETransformer3DModel

    torch.manual_seed(seed)
    return WanVACETransformer3DModel(
        **tiny_wan_block_config(in_channels),
        vace_layers=[0],
        vace_in_channels=2 * in_channels + 64,
    ).eval()


def require_with_ftfy(preset: str, pipelines: str) -> None:
    """``require_preset``, and ftfy: ``pipelines`` (WanVACEPipeline, the SkyReels-V2 ones) clean every
    prompt with it on every diffusers release (WanPipeline only before 0.37)."""
    require_preset(preset)
    import importlib.util

    if importlib.util.find_spec("ftfy") is None:
        raise TinyPresetUnavailable(f"{preset}: {pipelines} cleans every prompt with ftfy, which is not installed "
                                    "(pip install ftfy)")


def tiny_wan_vace_pipeline(seed: int = 0):
    """A WanVACEPipeline: tiny VACE transformer, UMT5 text encoder and Wan VAE. Called without a
    control video it conditions on a blank one (the pipeline's own default: text-to-video). Like
    diffusers' WanVACEPipeline (0.42) it makes one video per call: a list of prompts is refused there
    ("not yet supported"); batch 2 is tested on the transformer (tests/helpers/family_cases.py)."""
    require_with_ftfy("tiny-wan-vace", "WanVACEPipeline")
    FlowMatchEulerDiscreteScheduler, WanVACEPipeline = pipeline_classes(
        "FlowMatchEulerDiscreteScheduler", "WanVACEPipeline")

    from ._text import tiny_t5_text_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    pipe = tiny_pipeline_class(WanVACEPipeline)(
        tokenizer=tokenizer,
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_WAN_TEXT_DIM, umt5=True, seed=seed + 2),
        vae=tiny_wan_vae(seed + 1, z_dim=TINY_VACE_Z_DIM),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=TINY_WAN_SHIFT),
        transformer=tiny_wan_vace_transformer(seed),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_wan_vace_call())


# wan_vace_gna's window is 14x24x24 tokens with 15 dense steps (as wan_gna): 5 frames of 48x512
# pixels -> token grid (2, 3, 32), wider than the window, and 17 steps: the last 2 run sparse.
# Classifier-free guidance on (guidance_scale 5): the transformer runs twice per step. 5 frames, not
# tiny-wan's 9: the pipeline also VAE-encodes a control video (twice: inactive and reactive parts).
TINY_WAN_VACE_STEPS = 17
tiny_wan_vace_call = TinyCall(
    height=48, width=512, num_frames=5, steps=TINY_WAN_VACE_STEPS, output_type="np",
    pipeline_kwargs={"guidance_scale": 5.0},
)
