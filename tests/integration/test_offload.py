"""Patched pipelines under memory offload and moves: model / sequential / group offloading, pipe.to(dtype).

Each offload runs in both orders (patch, then offload; offload, then patch) on tiny FLUX (one step,
4x4 token grid, prompt embeddings given): a full window equals the stock pipeline, a small window
equals the explicit-mask ``reference`` backend on a plain pipeline, every call is counted, and
unpatching leaves the offloaded pipeline stock (stock processors, stock output, offload still on).

On this CPU-only machine the offload hooks onload to the CPU itself (``device="cpu"``: without it
diffusers 0.42.1 refuses both accelerate offloads, "requires accelerator"). Sequential offload is
applied with accelerate's ``cpu_offload`` per component, which is what
``enable_sequential_cpu_offload`` does, with the device "cpu": diffusers passes "cpu:0", to which
accelerate 1.15 can't offload on torch 2.13 (a ``TypeError`` moving weights back to the meta
device, for a stock pipeline alike).
"""

from __future__ import annotations

import functools

import pytest
import torch
from accelerate import cpu_offload
from diffusers.hooks.group_offloading import _is_group_offload_enabled
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor

import na_accel
from na_accel.tiny import TINY_PIPELINES, tiny_flux_prompt

FULL = {"model": "flux", "default": {"kernel_size": [999, 999]}}
SMALL = {"model": "flux", "default": {"kernel_size": [3, 3]}}
LAYERS = 4  # attention layers of the tiny FLUX; one transformer call per generation
ATOL = {torch.float32: 1e-5, torch.bfloat16: 3e-2}  # bf16: a few ulps at the latents' magnitude (~3)
ORDERS = ["patch_then_offload", "offload_then_patch"]

make, tiny_call = TINY_PIPELINES["tiny-flux"]


def generate(pipe, dtype=torch.float32):
    embeds = {name: tensor.to(dtype) for name, tensor in tiny_flux_prompt(seed=1).as_kwargs().items()}
    return pipe(**tiny_call(steps=1, height=64, width=64, output_type="latent", prompt=None, **embeds)).images


@functools.cache
def plain_output(recipe_name: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A plain pipeline's output: "stock", or patched with SMALL on the ``reference`` backend."""
    pipe = make(seed=0).to(dtype)
    if recipe_name == "reference":
        na_accel.patch(pipe, SMALL, backend="reference")
    return generate(pipe, dtype)


def assert_close(actual, expected, atol):
    error = (actual.float() - expected.float()).abs().max().item()
    assert error <= atol, f"max |difference| {error:.3g} > {atol:g}"


def totals(pipe):
    return dict(na_accel.describe(pipe).transformers[0].totals)


def check_full_then_unpatch_then_small(pipe, offloaded):
    """The pipeline is patched with FULL and offloaded: check it, unpatch, patch SMALL, check."""
    assert_close(generate(pipe), plain_output("stock"), ATOL[torch.float32])
    assert totals(pipe) == {"full window": LAYERS}
    assert na_accel.describe(pipe).transformers[0].backend == "flex-fna"

    na_accel.unpatch(pipe)
    processors = {type(p) for p in pipe.transformer.attn_processors.values()}
    assert processors == {FluxAttnProcessor}
    assert not any(name.startswith("_na_accel") for name in vars(pipe.transformer))
    assert offloaded(pipe)  # unpatch left the offload in place
    assert_close(generate(pipe), plain_output("stock"), 0.0)

    na_accel.patch(pipe, SMALL)
    assert_close(generate(pipe), plain_output("reference"), 1e-4)
    assert totals(pipe) == {"sparse": LAYERS}


def apply_in_order(pipe, order, offload, recipe=FULL):
    if order == "patch_then_offload":
        na_accel.patch(pipe, recipe)
        offload(pipe)
    else:
        offload(pipe)
        na_accel.patch(pipe, recipe)


@pytest.mark.parametrize("order", ORDERS)
def test_model_cpu_offload(order):
    pipe = make(seed=0)
    apply_in_order(pipe, order, lambda p: p.enable_model_cpu_offload(device="cpu"))
    check_full_then_unpatch_then_small(pipe, lambda p: len(p._all_hooks) > 0 and hasattr(p.transformer, "_hf_hook"))


def sequential_cpu_offload(pipe):
    """enable_sequential_cpu_offload's offload (weights on meta, onloaded per leaf module), to "cpu"."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            cpu_offload(component, torch.device("cpu"), offload_buffers=len(component._parameters) > 0)


@pytest.mark.parametrize("order", ORDERS)
def test_sequential_cpu_offload(order):
    # offload_then_patch failed before na_accel resolved the backend for accelerate's execution
    # device: the weights' device is meta, where no backend runs (BackendUnavailableError)
    pipe = make(seed=0)
    apply_in_order(pipe, order, sequential_cpu_offload)
    assert pipe.transformer.transformer_blocks[0].attn.to_q.weight.device.type == "meta"
    check_full_then_unpatch_then_small(pipe, lambda p: hasattr(p.transformer.transformer_blocks[0].attn.to_q, "_hf_hook"))


@pytest.mark.parametrize("level", ["block_level", "leaf_level"])
@pytest.mark.parametrize("order", ORDERS)
def test_group_offload(level, order):
    pipe = make(seed=0)
    options = {"num_blocks_per_group": 1} if level == "block_level" else {}
    apply_in_order(pipe, order, lambda p: p.transformer.enable_group_offload(
        onload_device=torch.device("cpu"), offload_device=torch.device("cpu"), offload_type=level, **options))
    check_full_then_unpatch_then_small(pipe, lambda p: _is_group_offload_enabled(p.transformer))


def test_dtype_move_after_patch_resolves_the_backend_again():
    pipe = make(seed=0)
    na_accel.patch(pipe, FULL)
    pipe.to(torch.bfloat16)
    out = generate(pipe, torch.bfloat16)
    assert out.dtype == torch.bfloat16
    assert_close(out, plain_output("stock", torch.bfloat16), ATOL[torch.bfloat16])
    assert totals(pipe) == {"full window": LAYERS}

    pipe = make(seed=0)
    na_accel.patch(pipe, SMALL)
    pipe.to(torch.bfloat16)
    assert_close(generate(pipe, torch.bfloat16), plain_output("reference", torch.bfloat16), ATOL[torch.bfloat16])
    report = na_accel.describe(pipe).transformers[0]
    assert report.totals == {"sparse": LAYERS}
    # resolved at patch time for float32, again for the bfloat16 calls
    assert report.backends_used == {"cpu float32": "flex-fna", "cpu bfloat16": "flex-fna"}

    pipe.to(torch.float32)  # and back (the weights keep their bfloat16 rounding: so does the reference's)
    reference = na_accel.patch(make(seed=0).to(torch.bfloat16).to(torch.float32), SMALL, backend="reference")
    assert_close(generate(pipe), generate(reference), 1e-4)
    assert na_accel.describe(pipe).transformers[0].totals == {"sparse": 2 * LAYERS}


@pytest.mark.parametrize("order", ORDERS)
def test_model_cpu_offload_keeps_the_patch_across_generations(order):
    # diffusers' maybe_free_model_hooks removes and re-adds accelerate's hooks after every call,
    # putting back the forward accelerate saved: a hook that wraps `forward` (as a diffusers
    # HookRegistry hook does) registered after the offload is dropped then, and later generations
    # run stock. na_accel's torch forward hooks run in Module.__call__, outside any forward wrapper.
    pipe = make(seed=0)
    apply_in_order(pipe, order, lambda p: p.enable_model_cpu_offload(device="cpu"), SMALL)
    for _ in range(3):
        assert_close(generate(pipe), plain_output("reference"), 1e-4)
    assert totals(pipe) == {"sparse": 3 * LAYERS}
