"""Diffusion transformers na_accel refuses on purpose, with the reason (one line each).

``REFUSED`` maps a diffusers transformer class name to why GNA can't (or must not) route its self
attention. ``na_accel.patch`` on one of them raises ``UnsupportedModelError`` with this reason, and
the coverage table of docs/models.md (generated from the installed diffusers) shows it. A class in
neither ``FAMILY_SPECS`` nor here is listed as "not yet". One entry per line, sorted.
"""

from __future__ import annotations

REFUSED: dict[str, str] = {
    "Kandinsky6SRTransformer3DModel": "already sparse: NABLA attention (Kandinsky6SRAttnProcessor), a BlockMask chosen per call from pooled attention scores, on the flex backend; GNA's window would replace that sparsity, not dense attention",
    "SanaTransformer2DModel": "linear attention (SanaLinearAttnProcessor2_0): no softmax attention matrix to window",
}
