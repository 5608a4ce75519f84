"""The ``reference`` backend: na_accel's explicit-mask dense GNA (``na_accel.reference``), the judge
every other backend is checked against. Runs anywhere, at small sizes only."""

from __future__ import annotations

from ..reference import reference_joint_attention
from .base import Backend, BackendTarget


REFERENCE = "reference"


class ReferenceBackend(Backend):
    name = REFERENCE

    def unavailable_reason(self, target: BackendTarget) -> str | None:
        return None

    def joint_attention(self, query, key, value, *, text_len, text_first, window, dense_attention,
                        text_valid_lens, attention_mask):
        return reference_joint_attention(query, key, value, text_len=text_len, text_first=text_first,
                                         window=window, text_valid_lens=text_valid_lens)
