"""Qwen-Image 2.1 (QwenImage21Transformer2DModel) is refused on purpose (na_accel/families/refused.py).

Why, checked on the stock model itself (a spy on its module's ``dispatch_attention_fn``): its
block-causal attention is several attention calls per layer call, the target image's queries a
suffix of the keys, not one self-attention call over the queries' own tokens, the one call per
layer call the seam routes (and the contract counts).
"""

from __future__ import annotations

import pytest
import torch

import na_accel
from na_accel.errors import UnsupportedModelError
from na_accel.families.refused import REFUSED

transformer_module = pytest.importorskip("diffusers.models.transformers.transformer_qwenimage21")

TEXT, HEIGHT, WIDTH, BATCH = 6, 4, 4, 2


def _tiny_qwen_image21():
    torch.manual_seed(0)
    return transformer_module.QwenImage21Transformer2DModel(
        patch_size=1, in_channels=4, out_channels=4, num_layers=2, attention_head_dim=16, num_attention_heads=2,
        context_in_dim=32, mlp_ratio=2, axes_dims_rope=(4, 6, 6)).eval()


def _inputs():
    """Text-to-image as its pipeline passes it: the prompt, then the target image's 2x2 slots."""
    generator = torch.Generator().manual_seed(0)
    img_mask = torch.zeros(BATCH, TEXT + HEIGHT * WIDTH // 4, dtype=torch.bool)
    img_mask[:, TEXT:] = True
    text_mask = torch.ones(BATCH, TEXT, dtype=torch.bool)
    text_mask[1, 4:] = False  # the second prompt is shorter: right padding
    return {"hidden_states": torch.randn(BATCH, HEIGHT * WIDTH, 4, generator=generator),
            "encoder_hidden_states": torch.randn(BATCH, TEXT, 32, generator=generator),
            "timestep": torch.full((BATCH,), 0.5), "img_shapes": [[(1, HEIGHT, WIDTH)]] * BATCH,
            "img_mask": img_mask, "encoder_hidden_states_mask": text_mask}


def test_its_layers_attend_in_several_calls_the_image_queries_a_suffix_of_the_keys(monkeypatch):
    transformer, calls, layer_calls = _tiny_qwen_image21(), [], []
    stock = transformer_module.dispatch_attention_fn

    def spy(query, key, value, *args, **kwargs):
        calls.append((query.shape[1], key.shape[1]))
        return stock(query, key, value, *args, **kwargs)

    monkeypatch.setattr(transformer_module, "dispatch_attention_fn", spy)
    for block in transformer.transformer_blocks:
        block.attn.register_forward_pre_hook(lambda module, args: layer_calls.append(module))
    with torch.no_grad():
        transformer(**_inputs())
    assert len(layer_calls) == 2 and len(calls) == 4  # two attention calls per layer call
    # the causal text rows over their own keys, then the image's 16 queries against all 22 keys
    assert calls == [(TEXT, TEXT), (HEIGHT * WIDTH, TEXT + HEIGHT * WIDTH)] * 2


def test_patch_refuses_it():
    assert "block-causal" in REFUSED["QwenImage21Transformer2DModel"]
    with pytest.raises(UnsupportedModelError, match="QwenImage21Transformer2DModel"):
        na_accel.patch(_tiny_qwen_image21(), {"model": "qwen_image", "default": {"kernel_size": [3, 3]}},
                       backend="reference")
