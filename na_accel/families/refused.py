"""Diffusion transformers na_accel refuses on purpose, with the reason (one line each).

``REFUSED`` maps a diffusers transformer class name to why GNA can't (or must not) route its self
attention. ``na_accel.patch`` on one of them raises ``UnsupportedModelError`` with this reason, and
the coverage table of docs/models.md (generated from the installed diffusers) shows it. A class in
neither ``FAMILY_SPECS`` nor here is listed as "not yet". One entry per line, sorted.
"""

from __future__ import annotations

REFUSED: dict[str, str] = {
    "SanaTransformer2DModel": "linear attention (SanaLinearAttnProcessor2_0): no softmax attention matrix to window",
    "WanAnimate2Transformer3DModel": "its denoising self attention (kv_cache_mode='cached') is one flex BlockMask call over a packed [generation | cached reference] buffer in which each generation frame sees every generation token plus only the reference frame aligned with its own: keys are not the queries' tokens and per-frame reference gating is neither a GNA window nor extra keys every query sees; only the once-per-segment reference pass (kv_cache_mode='extract') is plain self attention",
}
