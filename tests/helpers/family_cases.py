"""One tiny transformer case per family: (factory(seed=0), forward inputs for a transformer, a
kernel_size smaller than the case's grid). Batch 2, odd grids, text with padding where the family
has a mask: the layouts the processors really see."""

from __future__ import annotations

import torch

from na_accel import tiny

TRANSFORMER_CASES = {
    "flux": (tiny.tiny_flux_transformer, lambda t: tiny.flux_transformer_inputs(5, 7, 2, 8, 0), [3, 3]),
    "hunyuan_video": (
        tiny.tiny_hunyuan_video_transformer,
        lambda t: tiny.hunyuan_video_transformer_inputs(t, (2, 3, 4), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [2, 3, 3],
    ),
    "hunyuan_video15": (
        tiny.tiny_hunyuan_video15_transformer,
        lambda t: tiny.hunyuan_video15_transformer_inputs(t, (2, 3, 4), batch=2, text_len=24),
        [2, 3, 3],
    ),
    "cosmos": (tiny.tiny_cosmos_transformer, lambda t: tiny.cosmos_transformer_inputs(t, (2, 3, 4), batch=2), [2, 3, 3]),
    "wan": (tiny.tiny_wan_transformer, lambda t: tiny.wan_transformer_inputs(t, (2, 3, 4), batch=2), [2, 3, 3]),
    "flux2": (tiny.tiny_flux2_transformer, lambda t: tiny.flux2_transformer_inputs(t, (5, 7), batch=2), [3, 3]),
    "qwen_image": (
        tiny.tiny_qwen_image_transformer,
        lambda t: tiny.qwen_image_transformer_inputs(t, (4, 5), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [3, 3],
    ),
    "ltx_video": (
        tiny.tiny_ltx_video_transformer,
        lambda t: tiny.ltx_video_transformer_inputs(t, (2, 3, 5), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [2, 3, 3],
    ),
    "ltx2": (
        tiny.tiny_ltx2_transformer,
        lambda t: tiny.ltx2_transformer_inputs(t, (2, 3, 5), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [2, 3, 3],
    ),
    "minimax_h3": (  # [text | audio | video] packed: the audio rows join the text as extra keys
        tiny.tiny_minimax_h3_transformer,
        lambda t: tiny.minimax_h3_transformer_inputs(t, (2, 3, 5), batch=2, text_len=6, audio_latents=3),
        [2, 3, 3],
    ),
    # Qwen text only (as the refiner passes it): the stock forward's ByT5 join is data-dependent, no
    # fullgraph compile (tests/families/test_hunyuan_image.py compiles it with ByT5)
    "hunyuan_image": (
        tiny.tiny_hunyuan_image_transformer,
        lambda t: {name: value for name, value in tiny.hunyuan_image_transformer_inputs(
            t, (4, 5), batch=2, text_len=8, valid_text_lens=[8, 3]).items() if not name.endswith("_2")},
        [3, 3],
    ),
    # the history context (long, mid, short latent frames) joins as extra keys, first
    "helios": (
        tiny.tiny_helios_transformer,
        lambda t: tiny.helios_transformer_inputs(t, (2, 3, 5), batch=2, history_frames=(4, 2, 2)),
        [2, 3, 3],
    ),
    "chroma": (
        tiny.tiny_chroma_transformer,
        lambda t: tiny.chroma_transformer_inputs(t, (5, 7), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [3, 3],
    ),
    "flux3": (
        tiny.tiny_flux3_transformer,
        lambda t: tiny.flux3_transformer_inputs(t, (5, 7), batch=2, text_len=6, reference_grids=[(3, 4)]),
        [3, 3],
    ),
    # odd 3x5 grid (17 image pad tokens), captions of 40 and 7 tokens: joint rows of 96 and 64, masked
    "z_image": (
        tiny.tiny_z_image_transformer,
        lambda t: tiny.z_image_transformer_inputs(t, (3, 5), batch=2, text_len=40, valid_text_lens=[40, 7]),
        [3, 3],
    ),
    # text padded (the mask reaches the text blocks and cross attention only, both stock)
    "kandinsky6": (
        tiny.tiny_kandinsky6_transformer,
        lambda t: tiny.kandinsky6_transformer_inputs(t, (2, 3, 5), batch=2, text_len=6, valid_text_lens=[6, 3]),
        [2, 3, 3],
    ),
    "wan_vace": (tiny.tiny_wan_vace_transformer, lambda t: tiny.wan_vace_transformer_inputs(t, (2, 3, 4), batch=2), [2, 3, 3]),
    "skyreels_v2": (tiny.tiny_skyreels_v2_transformer, lambda t: tiny.skyreels_v2_transformer_inputs(t, (2, 3, 4), batch=2), [2, 3, 3]),
}


def prediction(output) -> torch.Tensor:
    """A case's forward output as one tensor: Z-Image's transformer returns one tensor per batch row."""
    sample = output.sample
    return torch.stack(sample) if isinstance(sample, (list, tuple)) else sample
