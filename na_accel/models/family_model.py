"""What the estimator knows of a family's full-size transformer, read from its spec and shipped
config without loading weights: its attention layers, size, text tokens, and attention's FLOP share."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..families.family_types import FamilySpec
from ..families.registry import family_spec


@dataclass(frozen=True)
class FamilyModel:
    """What the estimator needs to know about a family's full-size transformer (no weights are loaded),
    read from its ``FamilySpec`` and shipped config."""

    layers: tuple[str, ...]  # names of the attention modules na_accel patches (diffusers' names)
    params: float  # transformer parameters
    hidden: int  # attention width (heads x head_dim)
    head_dim: int
    text_tokens: int  # text tokens in the joint self attention (0: text comes by cross attention)
    default_steps: int  # the pipeline's default num_inference_steps
    source: str

    @classmethod
    def from_spec(cls, spec: FamilySpec) -> "FamilyModel":
        shipped = spec.shipped_config()
        config = shipped["config"]
        heads, head_dim = spec.attention_shape(config)
        return cls(
            layers=spec.layer_names(config),
            params=float(shipped["approx_parameters"]),
            hidden=heads * head_dim,
            head_dim=head_dim,
            text_tokens=spec.default_text_tokens if spec.text_in_self_attention else 0,
            default_steps=spec.default_steps,
            source=f"{shipped['name']} ({shipped['checkpoint']})",
        )


@functools.cache
def family_model(family: str) -> FamilyModel:
    """The estimator's model of ``family`` (read from its config on first use, not at import)."""
    return FamilyModel.from_spec(family_spec(family))


def attention_flop_share(family: str, visual_tokens: int) -> float:
    """Self attention's share of the transformer's FLOPs per step (analytic; an estimate).

    Attention: 4 * S^2 * hidden per layer (QK^T and PV); everything else: 2 * params * S.
    """
    model = family_model(family)
    tokens = visual_tokens + model.text_tokens
    attention = len(model.layers) * 4.0 * tokens * tokens * model.hidden
    rest = 2.0 * model.params * tokens
    return attention / (attention + rest)


__all__ = ["FamilyModel", "attention_flop_share", "family_model"]
