"""Diffusion transformers na_accel refuses on purpose, with the reason (one line each).

``REFUSED`` maps a diffusers transformer class name to why GNA can't (or must not) route its self
attention. ``na_accel.patch`` on one of them raises ``UnsupportedModelError`` with this reason, and
the coverage table of docs/models.md (generated from the installed diffusers) shows it. A class in
neither ``FAMILY_SPECS`` nor here is listed as "not yet". One entry per line, sorted.
"""

from __future__ import annotations

REFUSED: dict[str, str] = {
    "QwenImage21Transformer2DModel": "block-causal joint attention: each layer call attends in one call per prefix segment (causal text, each condition image) plus one whose queries are only the target image's tokens, against every key (the KV-cache decode likewise), where GNA routes one self-attention call over the queries' own tokens; QwenImage21FlexAttnProcessor's one call takes a flex BlockMask GNA can't read",
    "SanaTransformer2DModel": "linear attention (SanaLinearAttnProcessor2_0): no softmax attention matrix to window",
}
