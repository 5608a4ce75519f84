"""Cosmos3 (Cosmos3OmniTransformer) is refused on purpose (na_accel/families/refused.py): what its
stock attention calls are, observed on a tiny real model, is what the refusal says; and patch
refuses it."""

from __future__ import annotations

import pytest
import torch

import na_accel
from na_accel.errors import UnsupportedModelError
from na_accel.families.refused import REFUSED

# diffusers before 0.42 has no Cosmos3
cosmos3 = pytest.importorskip("diffusers.models.transformers.transformer_cosmos3")

UND, GRID = 5, (2, 3, 4)  # text tokens; the video's (T, H, W) token grid (latent patch 2x2)


def tiny_cosmos3_transformer():
    torch.manual_seed(0)
    return cosmos3.Cosmos3OmniTransformer(
        head_dim=16, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1,
        num_hidden_layers=2, latent_channel=4, latent_patch_size=2, patch_latent_dim=16, vocab_size=64,
        rope_axes_dim=[4, 2, 2],
    ).eval()


def packed_inputs():
    """One packed sequence, as Cosmos3OmniPipeline builds it: UND text tokens, then the video grid."""
    frames, height, width = GRID
    tokens = frames * height * width
    seq = UND + tokens
    return dict(
        input_ids=torch.randint(0, 64, (UND,), generator=torch.Generator().manual_seed(0)),
        text_indexes=torch.arange(UND), position_ids=torch.arange(seq).expand(3, -1), und_len=UND,
        sequence_length=seq, vision_tokens=[torch.randn(1, 4, frames, 2 * height, 2 * width)],
        vision_token_shapes=[GRID], vision_sequence_indexes=torch.arange(UND, seq),
        vision_mse_loss_indexes=torch.arange(UND, seq), vision_timesteps=torch.full((tokens,), 500.0),
        vision_noisy_frame_indexes=[torch.arange(frames)],
    )


def test_its_attention_calls_are_what_the_refusal_says(monkeypatch):
    seen = []
    stock = cosmos3.dispatch_attention_fn

    def spy(query, key, value, *args, **kwargs):
        seen.append((tuple(query.shape), tuple(key.shape), kwargs.get("is_causal"), kwargs.get("enable_gqa")))
        return stock(query, key, value, *args, **kwargs)

    monkeypatch.setattr(cosmos3, "dispatch_attention_fn", spy)
    transformer = tiny_cosmos3_transformer()
    with torch.no_grad():
        transformer(**packed_inputs())
    tokens = GRID[0] * GRID[1] * GRID[2]
    # per layer (2): the text causally over itself, then the video queries over [text; video] keys,
    # 2 query heads over 1 grouped KV head
    per_layer = [((1, UND, 2, 16), (1, UND, 1, 16), True, True),
                 ((1, tokens, 2, 16), (1, UND + tokens, 1, 16), False, True)]
    assert seen == per_layer * 2
    reason = REFUSED["Cosmos3OmniTransformer"]
    assert "is_causal" in reason and "enable_gqa" in reason and "text keys" in reason


def test_patch_refuses_it():
    transformer = tiny_cosmos3_transformer()
    with pytest.raises(UnsupportedModelError, match="Cosmos3OmniTransformer"):
        na_accel.patch(transformer, "wan_gna")
