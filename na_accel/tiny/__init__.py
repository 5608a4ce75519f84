"""Tiny random-weight pipelines, built from config offline: for the demo, the tests and CI.

They have the real model classes and token layouts at toy width (2 heads x head_dim 16) and tiny
text encoders (CLIP, T5, Llama, Qwen2.5-VL with one token per character; ByT5), so every code path
of a full-size model runs in milliseconds on a CPU. Their outputs are noise, except
``tiny-flux-shapes`` (``shapes/``): a tiny FLUX trained by na_accel to draw captioned shapes.

One module per model family (flux, flux2, hunyuan_video, hunyuan_video15, cosmos, wan, qwen_image;
flux_kontext: FLUX.1 Kontext), each with a tiny transformer, a tiny offline pipeline and the call
kwargs of its default generation (a ``TinyCall``). The input builders of bare transformers are the
families' own (``FamilySpec.transformer_inputs``, config-driven, re-exported here as
``<family>_transformer_inputs``; ``flux_transformer_inputs`` is the tiny FLUX's).
``TINY_TRANSFORMERS`` maps each family to its tiny transformer factory; ``TINY_PIPELINES`` maps
preset names to (pipeline factory, call-kwargs helper):
``factory, call = TINY_PIPELINES["tiny-wan"]; out = factory()(**call())``.
A tiny pipeline is also called like any diffusers pipeline, ``tiny_pipeline("tiny-wan")("a red
fox")``: arguments left out take the call helper's defaults. Those defaults (size, steps) are
chosen so that the family's shipped recipe runs sparse: grids its window does not cover whole,
steps past its ``dense_steps``.

On diffusers 0.36, the oldest release na_accel supports, ``tiny-flux2-klein`` can't be built (no
Flux2KleinPipeline before 0.37) and the Wan presets need ftfy:
``unavailable_reason(name)`` says why without building, and building raises
``TinyPresetUnavailable`` with the same reason (``_requirements.py``).
"""

from ..families.cosmos_spec import transformer_inputs as cosmos_transformer_inputs
from ..families.hunyuan_video15_spec import transformer_inputs as hunyuan_video15_transformer_inputs
from ..families.flux2_spec import transformer_inputs as flux2_transformer_inputs
from ..families.hunyuan_video_spec import transformer_inputs as hunyuan_video_transformer_inputs
from ..families.minimax_h3_spec import transformer_inputs as minimax_h3_transformer_inputs
from ..families.hunyuan_image_spec import transformer_inputs as hunyuan_image_transformer_inputs
from ..families.qwen_image_spec import transformer_inputs as qwen_image_transformer_inputs
from ..families.wan_spec import transformer_inputs as wan_transformer_inputs
from ..families.ltx_video_spec import transformer_inputs as ltx_video_transformer_inputs
from ..families.ltx2_spec import transformer_inputs as ltx2_transformer_inputs
from ..families.helios_spec import transformer_inputs as helios_transformer_inputs
from ..families.kandinsky6_spec import transformer_inputs as kandinsky6_transformer_inputs
from ..families.z_image_spec import transformer_inputs as z_image_transformer_inputs
from ._call import TinyCall
from ._requirements import TinyPresetUnavailable, unavailable_reason
from ._text import SafetyCheckerStandIn
from ..families.chroma_spec import transformer_inputs as chroma_transformer_inputs
from ..families.flux3_spec import transformer_inputs as flux3_transformer_inputs
from .flux3 import TINY_FLUX3_TEXT_DIM, tiny_flux3_call, tiny_flux3_pipeline, tiny_flux3_transformer
from .chroma import TINY_CHROMA_TEXT_DIM, tiny_chroma_call, tiny_chroma_pipeline, tiny_chroma_transformer
from .cosmos import TINY_COSMOS_TEXT_DIM, tiny_cosmos2_text_to_image_call, tiny_cosmos2_text_to_image_pipeline, tiny_cosmos_call, tiny_cosmos_pipeline, tiny_cosmos_transformer
from .flux2 import TINY_FLUX2_TEXT_DIM, tiny_flux2_call, tiny_flux2_klein_call, tiny_flux2_klein_pipeline, tiny_flux2_pipeline, tiny_flux2_transformer
from .flux_kontext import tiny_flux_kontext_call, tiny_flux_kontext_pipeline, tiny_reference_image
from .shapes import DEFAULT_SHAPES_PROMPT, tiny_flux_shapes_call, tiny_flux_shapes_pipeline
from .flux import TINY_FLUX_POOLED_DIM, TINY_FLUX_TEXT_DIM, FluxPromptEmbeds, flux_transformer_inputs, tiny_flux_call, tiny_flux_pipeline, tiny_flux_prompt, tiny_flux_transformer
from .modular import tiny_flux_modular_pipeline, tiny_wan22_modular_call, tiny_wan22_modular_pipeline
from .helios import TINY_HELIOS_TEXT_DIM, tiny_helios_call, tiny_helios_pipeline, tiny_helios_transformer
from .hunyuan_video15 import tiny_hunyuan_video15_call, tiny_hunyuan_video15_pipeline, tiny_hunyuan_video15_transformer
from .minimax_h3 import TINY_MINIMAX_H3_TEXT_DIM, tiny_minimax_h3_call, tiny_minimax_h3_pipeline, tiny_minimax_h3_transformer
from .hunyuan_video import TINY_HUNYUAN_POOLED_DIM, TINY_HUNYUAN_TEXT_DIM, tiny_hunyuan_video_call, tiny_hunyuan_video_pipeline, tiny_hunyuan_video_prompt_template, tiny_hunyuan_video_transformer
from .hunyuan_image import tiny_hunyuan_image_call, tiny_hunyuan_image_pipeline, tiny_hunyuan_image_transformer
from .qwen_image import TINY_QWEN_TEXT_DIM, tiny_qwen_image_call, tiny_qwen_image_pipeline, tiny_qwen_image_transformer
from .ltx2 import TINY_LTX2_TEXT_DIM, tiny_ltx2_call, tiny_ltx2_pipeline, tiny_ltx2_transformer
from .ltx_video import TINY_LTX_VIDEO_TEXT_DIM, tiny_ltx_video_call, tiny_ltx_video_pipeline, tiny_ltx_video_transformer
from .kandinsky6 import TINY_KANDINSKY6_TEXT_DIM, tiny_kandinsky6_call, tiny_kandinsky6_pipeline, tiny_kandinsky6_transformer
from .z_image import TINY_Z_IMAGE_TEXT_DIM, tiny_z_image_call, tiny_z_image_pipeline, tiny_z_image_transformer
from ..families.wan_vace_spec import transformer_inputs as wan_vace_transformer_inputs
from .wan_vace import tiny_wan_vace_call, tiny_wan_vace_pipeline, tiny_wan_vace_transformer
from ..families.skyreels_v2_spec import transformer_inputs as skyreels_v2_transformer_inputs
from .skyreels_v2 import tiny_skyreels_v2_call, tiny_skyreels_v2_diffusion_forcing_pipeline, tiny_skyreels_v2_pipeline, tiny_skyreels_v2_transformer
from .wan import TINY_WAN_BOUNDARY_RATIO, TINY_WAN_TEXT_DIM, tiny_wan22_call, tiny_wan_call, tiny_wan_pipeline, tiny_wan_transformer


def _tiny_wan22_pipeline(seed: int = 0):
    return tiny_wan_pipeline(seed, two_stage=True)


# family name -> tiny transformer factory(seed=0) (tests/families parametrize over the family registry)
TINY_TRANSFORMERS = {
    "flux": tiny_flux_transformer,
    "hunyuan_video": tiny_hunyuan_video_transformer,
    "cosmos": tiny_cosmos_transformer,
    "wan": tiny_wan_transformer,
    "hunyuan_video15": tiny_hunyuan_video15_transformer,
    "flux2": tiny_flux2_transformer,
    "qwen_image": tiny_qwen_image_transformer,
    "ltx_video": tiny_ltx_video_transformer,
    "ltx2": tiny_ltx2_transformer,
    "minimax_h3": tiny_minimax_h3_transformer,
    "hunyuan_image": tiny_hunyuan_image_transformer,
    "helios": tiny_helios_transformer,
    "chroma": tiny_chroma_transformer,
    "flux3": tiny_flux3_transformer,
    "z_image": tiny_z_image_transformer,
    "kandinsky6": tiny_kandinsky6_transformer,
    "wan_vace": tiny_wan_vace_transformer,
    "skyreels_v2": tiny_skyreels_v2_transformer,
}

# preset name -> (pipeline factory(seed=0), call-kwargs helper(**overrides))
TINY_PIPELINES = {
    "tiny-flux": (tiny_flux_pipeline, tiny_flux_call),
    "tiny-flux-shapes": (tiny_flux_shapes_pipeline, tiny_flux_shapes_call),
    "tiny-flux-kontext": (tiny_flux_kontext_pipeline, tiny_flux_kontext_call),
    "tiny-hunyuan-video": (tiny_hunyuan_video_pipeline, tiny_hunyuan_video_call),
    "tiny-cosmos": (tiny_cosmos_pipeline, tiny_cosmos_call),
    "tiny-cosmos2-t2i": (tiny_cosmos2_text_to_image_pipeline, tiny_cosmos2_text_to_image_call),
    "tiny-wan": (tiny_wan_pipeline, tiny_wan_call),
    "tiny-wan2.2": (_tiny_wan22_pipeline, tiny_wan22_call),
    "tiny-hunyuan-video15": (tiny_hunyuan_video15_pipeline, tiny_hunyuan_video15_call),
    "tiny-flux2": (tiny_flux2_pipeline, tiny_flux2_call),
    "tiny-flux2-klein": (tiny_flux2_klein_pipeline, tiny_flux2_klein_call),
    "tiny-qwen-image": (tiny_qwen_image_pipeline, tiny_qwen_image_call),
    "tiny-ltx-video": (tiny_ltx_video_pipeline, tiny_ltx_video_call),
    "tiny-ltx2": (tiny_ltx2_pipeline, tiny_ltx2_call),
    "tiny-flux-modular": (tiny_flux_modular_pipeline, tiny_flux_call),
    "tiny-wan2.2-modular": (tiny_wan22_modular_pipeline, tiny_wan22_modular_call),
    "tiny-minimax-h3": (tiny_minimax_h3_pipeline, tiny_minimax_h3_call),
    "tiny-hunyuan-image": (tiny_hunyuan_image_pipeline, tiny_hunyuan_image_call),
    "tiny-helios": (tiny_helios_pipeline, tiny_helios_call),
    "tiny-chroma": (tiny_chroma_pipeline, tiny_chroma_call),
    "tiny-flux3": (tiny_flux3_pipeline, tiny_flux3_call),
    "tiny-z-image": (tiny_z_image_pipeline, tiny_z_image_call),
    "tiny-kandinsky6": (tiny_kandinsky6_pipeline, tiny_kandinsky6_call),
    "tiny-wan-vace": (tiny_wan_vace_pipeline, tiny_wan_vace_call),
    "tiny-skyreels-v2": (tiny_skyreels_v2_pipeline, tiny_skyreels_v2_call),
}


def tiny_pipeline(name: str, seed: int = 0):
    """The tiny preset ``name`` (a key of TINY_PIPELINES) built with ``seed``: a diffusers pipeline,
    called like any other (``pipe("a red fox")``; left-out arguments take the preset's small defaults)."""
    if name not in TINY_PIPELINES:
        from ..errors import ArgumentError

        raise ArgumentError(f"name: {name!r} is not a tiny preset; allowed: {', '.join(sorted(TINY_PIPELINES))}")
    factory, _ = TINY_PIPELINES[name]
    return factory(seed=seed)  # raises TinyPresetUnavailable where unavailable_reason(name) says why

__all__ = [
    "DEFAULT_SHAPES_PROMPT",
    "tiny_flux_shapes_call",
    "tiny_flux_shapes_pipeline",
    "TINY_FLUX3_TEXT_DIM",
    "flux3_transformer_inputs",
    "tiny_flux3_call",
    "tiny_flux3_pipeline",
    "tiny_flux3_transformer",
    "TINY_CHROMA_TEXT_DIM",
    "chroma_transformer_inputs",
    "tiny_chroma_call",
    "tiny_chroma_pipeline",
    "tiny_chroma_transformer",
    "TINY_COSMOS_TEXT_DIM",
    "TINY_FLUX2_TEXT_DIM",
    "TINY_FLUX_POOLED_DIM",
    "TINY_FLUX_TEXT_DIM",
    "TINY_HELIOS_TEXT_DIM",
    "TINY_HUNYUAN_POOLED_DIM",
    "TINY_HUNYUAN_TEXT_DIM",
    "TINY_MINIMAX_H3_TEXT_DIM",
    "TINY_PIPELINES",
    "TINY_QWEN_TEXT_DIM",
    "TINY_TRANSFORMERS",
    "TINY_WAN_BOUNDARY_RATIO",
    "TINY_WAN_TEXT_DIM",
    "FluxPromptEmbeds",
    "SafetyCheckerStandIn",
    "TinyCall",
    "TinyPresetUnavailable",
    "cosmos_transformer_inputs",
    "flux2_transformer_inputs",
    "flux_transformer_inputs",
    "helios_transformer_inputs",
    "hunyuan_video15_transformer_inputs",
    "hunyuan_image_transformer_inputs",
    "hunyuan_video_transformer_inputs",
    "minimax_h3_transformer_inputs",
    "qwen_image_transformer_inputs",
    "tiny_cosmos2_text_to_image_call",
    "tiny_cosmos2_text_to_image_pipeline",
    "tiny_cosmos_call",
    "tiny_cosmos_pipeline",
    "tiny_cosmos_transformer",
    "tiny_flux2_call",
    "tiny_flux2_klein_call",
    "tiny_flux2_klein_pipeline",
    "tiny_flux2_pipeline",
    "tiny_flux2_transformer",
    "tiny_flux_call",
    "tiny_flux_kontext_call",
    "tiny_flux_kontext_pipeline",
    "tiny_flux_modular_pipeline",
    "tiny_flux_pipeline",
    "tiny_flux_prompt",
    "tiny_flux_transformer",
    "tiny_helios_call",
    "tiny_helios_pipeline",
    "tiny_helios_transformer",
    "tiny_hunyuan_video15_call",
    "tiny_hunyuan_video15_pipeline",
    "tiny_hunyuan_video15_transformer",
    "tiny_hunyuan_image_call",
    "tiny_hunyuan_image_pipeline",
    "tiny_hunyuan_image_transformer",
    "tiny_hunyuan_video_call",
    "tiny_hunyuan_video_pipeline",
    "tiny_hunyuan_video_prompt_template",
    "tiny_hunyuan_video_transformer",
    "tiny_minimax_h3_call",
    "tiny_minimax_h3_pipeline",
    "tiny_minimax_h3_transformer",
    "tiny_pipeline",
    "tiny_qwen_image_call",
    "tiny_qwen_image_pipeline",
    "tiny_qwen_image_transformer",
    "tiny_reference_image",
    "tiny_wan22_call",
    "tiny_wan22_modular_call",
    "tiny_wan22_modular_pipeline",
    "tiny_wan_call",
    "tiny_wan_pipeline",
    "tiny_wan_transformer",
    "unavailable_reason",
    "wan_transformer_inputs",
    "TINY_LTX_VIDEO_TEXT_DIM",
    "ltx_video_transformer_inputs",
    "tiny_ltx_video_call",
    "tiny_ltx_video_pipeline",
    "tiny_ltx_video_transformer",
    "TINY_LTX2_TEXT_DIM",
    "ltx2_transformer_inputs",
    "tiny_ltx2_call",
    "tiny_ltx2_pipeline",
    "tiny_ltx2_transformer",
    "TINY_Z_IMAGE_TEXT_DIM",
    "tiny_z_image_call",
    "tiny_z_image_pipeline",
    "tiny_z_image_transformer",
    "z_image_transformer_inputs",
    "TINY_KANDINSKY6_TEXT_DIM",
    "kandinsky6_transformer_inputs",
    "tiny_kandinsky6_call",
    "tiny_kandinsky6_pipeline",
    "tiny_kandinsky6_transformer",
    "tiny_wan_vace_call",
    "tiny_wan_vace_pipeline",
    "tiny_wan_vace_transformer",
    "wan_vace_transformer_inputs",
    "skyreels_v2_transformer_inputs",
    "tiny_skyreels_v2_call",
    "tiny_skyreels_v2_diffusion_forcing_pipeline",
    "tiny_skyreels_v2_pipeline",
    "tiny_skyreels_v2_transformer",
]
