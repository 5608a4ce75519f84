"""SkyReels-V2's diffusion forcing: block-causal calls stay exact (stock, counted with the reason);
synchronous diffusion forcing (per-frame timesteps, no mask) is plain self attention and runs GNA.

The tiny SkyReelsV2DiffusionForcingPipeline, float32 on the CPU: 13 frames of 48x128 pixels are a
(4, 3, 8) token grid; with ``causal_block_size=2`` the transformer hands attn1 a block-causal mask
over 2 blocks of 2 latent frames. Counts are checked against an independent forward hook.
"""

from __future__ import annotations

import pytest
import torch

import na_accel
from na_accel.kernels.reference import REFERENCE
from na_accel.tiny import tiny_skyreels_v2_call, tiny_skyreels_v2_diffusion_forcing_pipeline

SPARSE = {"model": "skyreels_v2", "dense_steps": 0, "default": {"kernel_size": [2, 3, 3]}}
FULL = {"model": "skyreels_v2", "dense_steps": 0, "default": {"kernel_size": 4096}}


def _generate(recipe=None, backend=REFERENCE, **call):
    """(latents, describe totals, attn1 calls seen by a forward hook) of one diffusion-forcing run
    on a fresh pipeline (``causal_block_size`` changes the transformer's config for good)."""
    pipe = tiny_skyreels_v2_diffusion_forcing_pipeline(seed=0)
    calls = []
    for block in pipe.transformer.blocks:
        block.attn1.register_forward_pre_hook(lambda module, args: calls.append(1))
    if recipe is not None:
        na_accel.patch(pipe, recipe, backend=backend)
    kwargs = tiny_skyreels_v2_call(steps=2, num_frames=13, width=128, output_type="latent", seed=1, **call)
    with torch.no_grad():
        latents = pipe(**kwargs).frames
    totals = dict(na_accel.describe(pipe).transformers[0].totals) if recipe is not None else {}
    return latents, totals, len(calls)


def test_block_causal_diffusion_forcing_runs_stock_exactly_and_counted():
    stock, _, stock_calls = _generate(causal_block_size=2)
    with pytest.warns(UserWarning, match="block-causal mask in time"):  # the first fallback is announced
        out, totals, calls = _generate(SPARSE, causal_block_size=2)
    assert torch.equal(out, stock)  # the stock attention, bit for bit
    assert calls == stock_calls > 0
    [(outcome, count)] = totals.items()
    assert count == calls
    assert outcome.startswith("dense: ") and "block-causal mask in time" in outcome
    assert "num_frame_per_block=2" in outcome


def test_synchronous_diffusion_forcing_runs_gna():
    stock, _, stock_calls = _generate()
    full, full_totals, calls = _generate(FULL)
    assert calls == stock_calls > 0 and full_totals == {"full window": calls}
    assert (full - stock).abs().max() <= 1e-5 * max(1.0, stock.abs().max().item())
    sparse, totals, calls = _generate(SPARSE)
    assert totals == {"sparse": calls}
    assert (sparse - stock).abs().max() > 1e-4  # the window is sparse: GNA changed the generation
