"""Cosmos Predict2 edges the generic contract (test_families.py) does not reach.

* each block's second attention call, the cross attention to the text, runs stock, and the self
  attention never does under a sparse window;
* video-to-world with a conditioning frame (the latent and noise mask that
  CosmosPredict2ImageToVideoLatent makes from a start image: per-frame timesteps, the mask channel)
  keeps the latent's grid, every self attention sparse;
* the grid formula per axis, with a temporal patch the shipped configs do not use.
"""

from __future__ import annotations

import types

import torch

from comfyui.cases.base import sample
from comfyui.cases.cosmos import COSMOS_V2W, TEXT_TOKENS
from na_accel.comfyui import patch_model, patch_of
from na_accel.comfyui.attention import OVERRIDE_KEY
from na_accel.comfyui.families.cosmos import token_layout

SPARSE = {"model": "cosmos", "name": "test_3", "speed_gate": "sparse", "default": {"kernel_size": [3, 3, 3]}}




def _forwards(model, run):
    forwards = []
    handle = model.model.diffusion_model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        return run(), len(forwards)
    finally:
        handle.remove()


def test_cross_attention_runs_stock(comfy, models):
    """An override set before na_accel's is what na_accel calls for the calls it leaves stock: here
    it records them. Only the cross attention (keys: the text) reaches it, once per block."""
    stock_keys = []

    def spy(func, q, k, v, *args, **kwargs):
        stock_keys.append(k.shape[-2])  # [B, heads, S, D] (skip_reshape)
        return func(q, k, v, *args, **kwargs)

    model = models(COSMOS_V2W).clone()
    model.model_options.setdefault("transformer_options", {})[OVERRIDE_KEY] = spy
    patched = patch_model(model, SPARSE, backend="reference")
    _, forwards = _forwards(patched, lambda: sample(comfy, patched, COSMOS_V2W, steps=2))
    blocks = len(patched.model.diffusion_model.blocks)
    assert forwards > 0 and stock_keys == [TEXT_TOKENS] * (forwards * blocks)
    assert dict(patch_of(patched).totals()) == {"sparse": forwards * blocks}


def test_video_to_world_conditioning_frame_keeps_the_grid(comfy, models):
    case = COSMOS_V2W
    patched = patch_model(models(case), SPARSE, backend="reference")
    generator = torch.Generator().manual_seed(0)
    latent = torch.zeros(case.latent)
    latent[:, :, :1] = torch.randn(*case.latent[:2], 1, *case.latent[3:], generator=generator)  # the start image
    mask = torch.ones(1, 1, *case.latent[2:])
    mask[:, :, :1] = 0.0  # its frame is kept, the others are generated
    noise = torch.randn(case.latent, generator=generator)
    positive, negative = case.conditioning(generator, 1)
    out, forwards = _forwards(patched, lambda: comfy.sample.sample(
        patched, noise, 2, case.cfg, case.sampler, "simple", positive, negative, latent, noise_mask=mask,
        disable_pbar=True, seed=0))
    patch = patch_of(patched)
    assert torch.isfinite(out).all()
    # the conditioning frame came through (up to the rounding of the sampler's mask blend)
    assert torch.allclose(out[:, :, :1], latent[:, :, :1], atol=1e-5)
    assert not torch.allclose(out[:, :, 1:], latent[:, :, 1:], atol=1e-2)
    assert forwards > 0 and dict(patch.totals()) == {"sparse": forwards * len(patch.routes)}
    assert {route.windows.last.window.grid for route in patch.routes.values()} == {case.grid}


def test_grid_per_axis():
    model = types.SimpleNamespace(patch_temporal=2, patch_spatial=2)
    layout = token_layout(model, {"x": torch.zeros(1, 17, 6, 10, 14)})
    assert (layout.grid, layout.text_len, layout.extra_grids) == ((3, 5, 7), 0, ())
    assert token_layout(model, {"x": torch.zeros(1, 16, 10, 14)}).grid is None  # no frame axis: refused
