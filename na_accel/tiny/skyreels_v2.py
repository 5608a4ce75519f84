"""Tiny random-weight SkyReels-V2 (SkyReelsV2Transformer3DModel) and its pipelines, built offline.

Token layout: self attention (attn1) over the video tokens only, a row-major (frames, height,
width) grid of 1x2x2 latent patches; cross attention (attn2) to the text. The preset is the plain
text-to-video SkyReelsV2Pipeline; ``tiny_skyreels_v2_diffusion_forcing_pipeline`` builds the
diffusion-forcing one around the same components.
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from .wan import TINY_WAN_TEXT_DIM, tiny_wan_block_config, tiny_wan_vae
from .wan_vace import require_with_ftfy

TINY_SKYREELS_SHIFT = 8.0  # SkyReels-V2 text-to-video's flow shift (its pipeline docs: 8 for T2V, 5 for I2V)


def tiny_skyreels_v2_transformer(seed: int = 0, in_channels: int = 4):
    """``in_channels`` = the VAE's latent channels (4 for the tiny pipelines' VAE)."""
    from diffusers import SkyReelsV2Transformer3DModel

    torch.manual_seed(seed)
    return SkyReelsV2Transformer3DModel(
        **tiny_wan_block_config(in_channels),
    ).eval()


def _components(seed: int) -> dict:
    (UniPCMultistepScheduler,) = pipeline_classes("UniPCMultistepScheduler")
    from ._text import tiny_t5_text_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    return {
        "tokenizer": tokenizer,
        "text_encoder": tiny_t5_text_encoder(len(tokenizer), d_model=TINY_WAN_TEXT_DIM, umt5=True, seed=seed + 2),
        "vae": tiny_wan_vae(seed + 1),
        "scheduler": UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                             flow_shift=TINY_SKYREELS_SHIFT),
        "transformer": tiny_skyreels_v2_transformer(seed),
    }


def tiny_skyreels_v2_pipeline(seed: int = 0):
    """A SkyReelsV2Pipeline (text-to-video): tiny transformer, UMT5 text encoder, Wan VAE, UniPC (flow)."""
    require_with_ftfy("tiny-skyreels-v2", "SkyReelsV2Pipeline")
    (SkyReelsV2Pipeline,) = pipeline_classes("SkyReelsV2Pipeline")
    pipe = tiny_pipeline_class(SkyReelsV2Pipeline)(**_components(seed))
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_skyreels_v2_call())


def tiny_skyreels_v2_diffusion_forcing_pipeline(seed: int = 0):
    """A SkyReelsV2DiffusionForcingPipeline of the same tiny components (per-frame timesteps; with
    ``causal_block_size`` > 1, a block-causal attention mask in time). Its call defaults are the
    preset's (``tiny_skyreels_v2_call``)."""
    require_with_ftfy("tiny-skyreels-v2", "SkyReelsV2Pipeline")
    (SkyReelsV2DiffusionForcingPipeline,) = pipeline_classes("SkyReelsV2DiffusionForcingPipeline")
    pipe = tiny_pipeline_class(SkyReelsV2DiffusionForcingPipeline)(**_components(seed))
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_skyreels_v2_call())


# skyreels_v2_gna's window is 18x24x24 tokens with 15 dense steps: 9 frames of 48x512 pixels ->
# token grid (3, 3, 32), wider than the window, and 17 steps: the last 2 run sparse. Classifier-free
# guidance on (guidance_scale 6, the pipeline's): the transformer runs twice per step.
TINY_SKYREELS_V2_STEPS = 17
tiny_skyreels_v2_call = TinyCall(
    height=48, width=512, num_frames=9, steps=TINY_SKYREELS_V2_STEPS, output_type="np",
    pipeline_kwargs={"guidance_scale": 6.0},
)
