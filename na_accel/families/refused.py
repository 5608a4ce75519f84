"""Diffusion transformers na_accel refuses on purpose, with the reason (one line each).

``REFUSED`` maps a diffusers transformer class name to why GNA can't (or must not) route its self
attention. ``na_accel.patch`` on one of them raises ``UnsupportedModelError`` with this reason, and
the coverage table of docs/models.md (generated from the installed diffusers) shows it. A class in
neither ``FAMILY_SPECS`` nor here is listed as "not yet". One entry per line, sorted.
"""

from __future__ import annotations

REFUSED: dict[str, str] = {
    "Cosmos3OmniTransformer": "packed dual-pathway attention (Cosmos3AttnProcessor): per layer the text tokens attend causally (is_causal) in one call and the generated tokens (video grid, then sound and action) attend [text keys; their own] in another, with grouped KV heads (enable_gqa): queries and keys differ in count and heads, which GNA's seam routes in no family (a key-only text prefix and GQA would need core support)",
    "SanaTransformer2DModel": "linear attention (SanaLinearAttnProcessor2_0): no softmax attention matrix to window",
}
