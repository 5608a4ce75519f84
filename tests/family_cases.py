"""One tiny transformer case per family: (factory(seed=0), forward inputs for a transformer, a
kernel_size smaller than the case's grid). Batch 2, odd grids, text with padding where the family
has a mask: the layouts the processors really see."""

from __future__ import annotations

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
}
