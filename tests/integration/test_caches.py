"""diffusers caches (``transformer.enable_cache``) on patched pipelines.

Every cache below hooks blocks or attention modules (diffusers' HookRegistry replaces their
``forward``); na_accel swaps processors and reads the token layout in a torch forward pre-hook of
the transformer, so the two stack in either order. Checked on the tiny FLUX pipeline, per cache and
per order (patch then enable_cache, enable_cache then patch):

* a full window gives the cache's own output (stock + the same cache), a small window the output
  of the same cache with the ``reference`` backend;
* the counters count exactly the attention calls that ran: the calls are counted independently
  (a hook on each layer's ``to_q``, which every processor call runs), checked against what the
  cache's rules say it ran, and na_accel's per-layer counts are derived from them, with
  ``dense_steps`` and ``dense_final_steps`` (steps are read from the scheduler, not counted);
* ``disable_cache`` then ``unpatch`` and ``unpatch`` then ``disable_cache`` leave the pipeline
  bit-for-bit stock with no hook or processor left behind.

FasterCache's unconditional-branch skipping (a batched [uncond, cond] call) is in
test_caches_batched_cfg.py.
"""

from __future__ import annotations

import ast
import contextlib
from collections import Counter

import pytest
import torch
from diffusers import (
    FasterCacheConfig,
    FirstBlockCacheConfig,
    MagCacheConfig,
    PyramidAttentionBroadcastConfig,
    TaylorSeerCacheConfig,
)

import na_accel
from na_accel.tiny import TINY_PIPELINES

STEPS = 4
SIZE = 64  # 64x64 pixels -> a 4x4 token grid
SMALL, FULL = [3, 3], [999, 999]  # truly sparse on 4x4; covering the grid (clamped: "full window")
HEAD_LAYER = "transformer_blocks.0.attn"  # FirstBlockCache's head block always runs
CACHES = ("first_block", "mag", "taylorseer", "pab", "faster")
TOLERANCE = 1e-5


# --- the caches, and which attention calls their rules let run ----------------------------------


def cache_config(name: str, pipe, steps: int = STEPS):
    """A cache configured to skip deterministically on the tiny FLUX pipeline (see ``layers_run``)."""
    timestep = lambda: pipe.current_timestep  # noqa: E731 (FLUX timesteps: 1000, 750, 500, 250)
    if name == "first_block":  # a threshold no residual change reaches: every step after the first skips
        return FirstBlockCacheConfig(threshold=1e9)
    if name == "mag":  # flat ratios: a step is skipped after each computed one (max_skip_steps=1)
        return MagCacheConfig(mag_ratios=[1.0] * steps, num_inference_steps=steps, retention_ratio=0.0,
                              threshold=1e9, max_skip_steps=1)
    if name == "taylorseer":  # attention computed at steps 0, 2, 4, ..., predicted in between
        return TaylorSeerCacheConfig(cache_interval=2, disable_cache_before_step=1,
                                     taylor_factors_dtype=torch.float32)
    if name == "pab":  # attention computed every 2nd step, broadcast in between
        return PyramidAttentionBroadcastConfig(spatial_attention_block_skip_range=2,
                                               spatial_attention_timestep_skip_range=(-1, 1001),
                                               current_timestep_callback=timestep)
    if name == "faster":  # FLUX.1-dev is guidance-distilled: attention skipping only (step 0 out of range)
        return FasterCacheConfig(spatial_attention_block_skip_range=2, spatial_attention_timestep_skip_range=(-1, 900),
                                 is_guidance_distilled=True, current_timestep_callback=timestep,
                                 attention_weight_callback=lambda _: 0.5)
    raise ValueError(name)


def layers_run(name: str, step: int, layers: list[str]) -> list[str]:
    """The attention layers whose call ``name``'s rules let run at denoising ``step``."""
    if name == "first_block":
        return layers if step == 0 else [HEAD_LAYER]
    return layers if step % 2 == 0 else []  # the other four: even steps compute, odd steps reuse


# --- running and counting ----------------------------------------------------------------------


def make_pipe():
    make, _ = TINY_PIPELINES["tiny-flux"]
    return make(seed=0)


def generate(pipe, steps: int = STEPS) -> torch.Tensor:
    _, call = TINY_PIPELINES["tiny-flux"]
    return pipe(**call(steps=steps, height=SIZE, width=SIZE, output_type="latent")).images


def attention_layers(transformer) -> dict[str, torch.nn.Module]:
    return {name: m for name, m in transformer.named_modules() if hasattr(m, "processor") and hasattr(m, "to_q")}


@contextlib.contextmanager
def counting_attention_calls(pipe):
    """Counter (step, layer) -> calls of each attention layer's processor, counted by a hook on its
    ``to_q`` (every processor call, GNA or stock, projects the queries; a skipped layer doesn't)."""
    calls: Counter = Counter()
    handles = [
        module.to_q.register_forward_hook(
            lambda *_, name=name: calls.update([(pipe.scheduler.step_index or 0, name)]))
        for name, module in attention_layers(pipe.transformer).items()
    ]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def counted(pipe) -> Counter:
    """na_accel's counts as (layer, outcome) -> calls; the dense steps' reasons reduced to their kind."""
    counts: Counter = Counter()
    for layer in na_accel.describe(pipe).transformers[0].layers:
        counts[(layer.name, "sparse")] += layer.sparse_calls
        counts[(layer.name, "full window")] += layer.full_window_calls
        for reason, n in layer.dense_calls.items():
            kind = ("dense final step" if reason.startswith("dense final step")
                    else "dense step" if reason.startswith("dense step") else reason)
            counts[(layer.name, kind)] += n
    return +counts


def expected_counts(runs: Counter, ran: str, steps: int = STEPS) -> Counter:
    """What na_accel must count for the calls that ran, with dense_steps=1 and dense_final_steps=1."""
    counts: Counter = Counter()
    for (step, layer), n in runs.items():
        kind = "dense step" if step < 1 else "dense final step" if step >= steps - 1 else ran
        counts[(layer, kind)] += n
    return counts


def recipe(kernel_size) -> dict:
    return {"model": "flux", "dense_steps": 1, "dense_final_steps": 1, "default": {"kernel_size": kernel_size}}


def apply(pipe, order: str, kernel_size, backend: str, cache: str) -> None:
    patching = lambda: na_accel.patch(pipe, recipe(kernel_size), backend=backend)  # noqa: E731
    caching = lambda: pipe.transformer.enable_cache(cache_config(cache, pipe))  # noqa: E731
    for step in ((patching, caching) if order == "patch_first" else (caching, patching)):
        step()


def remove(pipe, order: str) -> None:
    if order == "disable_first":
        pipe.transformer.disable_cache()
        na_accel.unpatch(pipe)
    else:
        na_accel.unpatch(pipe)
        pipe.transformer.disable_cache()


def assert_stock(pipe, processors: dict, stock_output: torch.Tensor | None) -> None:
    """No na_accel state, hook or processor left; diffusers' registries empty; the output (when
    given) bit for bit the never-touched pipeline's."""
    transformer = pipe.transformer
    assert not hasattr(transformer, "_na_accel_patch") and not transformer.is_cache_enabled
    for name, module in transformer.named_modules():
        assert not module._forward_pre_hooks and not module._forward_hooks, name
        registry = getattr(module, "_diffusers_hook", None)
        assert registry is None or not registry.hooks, (name, list(registry.hooks))
    now = attention_layers(transformer)
    assert all(now[name].processor is original for name, original in processors.items())
    if stock_output is not None:
        assert torch.equal(generate(pipe), stock_output)


# --- the tests -----------------------------------------------------------------------------------


# (window, backend, order of patch / enable_cache, order of disable_cache / unpatch): every pair of
# orders once; the full window in both application orders, the small window compared across them
CYCLES = (
    (FULL, "auto", "patch_first", "disable_first"),
    (FULL, "reference", "cache_first", "unpatch_first"),
    (SMALL, "flex-fna", "cache_first", "disable_first"),
    (SMALL, "reference", "patch_first", "unpatch_first"),
)


@pytest.mark.parametrize("cache", CACHES)
def test_cache_with_gna_matches_cache_alone_and_counts_what_ran(cache):
    pipe = make_pipe()
    layers = list(attention_layers(pipe.transformer))
    processors = {name: m.processor for name, m in attention_layers(pipe.transformer).items()}
    stock = generate(pipe)  # never touched
    pipe.transformer.enable_cache(cache_config(cache, pipe))
    with counting_attention_calls(pipe) as runs:
        cache_alone = generate(pipe)
    pipe.transformer.disable_cache()
    # the cache's rules, as counted by the hooks (and the cache did skip: fewer than all calls)
    assert runs == Counter({(s, layer): 1 for s in range(STEPS) for layer in layers_run(cache, s, layers)})
    assert sum(runs.values()) < STEPS * len(layers)
    assert not torch.equal(cache_alone, stock)

    outputs = {}
    for i, (kernel_size, backend, order, removal) in enumerate(CYCLES):
        apply(pipe, order, kernel_size, backend, cache)
        with counting_attention_calls(pipe) as calls:
            outputs[kernel_size == FULL, backend] = generate(pipe)
        assert calls == runs, (order, backend)  # the same calls ran as with the cache alone
        ran = "full window" if kernel_size == FULL else "sparse"
        assert counted(pipe) == expected_counts(runs, ran), (order, backend)
        remove(pipe, removal)
        assert_stock(pipe, processors, stock if i >= 2 else None)  # the output: once per removal order

    for backend in ("auto", "reference"):
        torch.testing.assert_close(outputs[True, backend], cache_alone, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(outputs[False, "flex-fna"], outputs[False, "reference"], atol=TOLERANCE, rtol=0)
    assert (outputs[False, "reference"] - cache_alone).abs().max() > 1e-3  # the small window is really sparse


def _calibrated_ratios(pipe, capsys) -> tuple[torch.Tensor, list[float]]:
    """One MagCache calibration run: its output and the ratios it prints at the end."""
    pipe.transformer.enable_cache(MagCacheConfig(calibrate=True, num_inference_steps=STEPS))
    capsys.readouterr()
    with counting_attention_calls(pipe) as calls:
        output = generate(pipe)
    lines = capsys.readouterr().out.splitlines()
    pipe.transformer.disable_cache()
    assert calls == Counter({(s, layer): 1 for s in range(STEPS) for layer in attention_layers(pipe.transformer)})
    printed = next(i for i, line in enumerate(lines) if "Calibration Complete" in line) + 1
    ratios = ast.literal_eval(lines[printed])
    assert len(ratios) == STEPS
    return output, ratios


def test_magcache_calibration_pass_with_gna(capsys):
    pipe = make_pipe()
    every_call = Counter({(s, layer): 1 for s in range(STEPS) for layer in attention_layers(pipe.transformer)})
    runs = {"stock": _calibrated_ratios(pipe, capsys)}
    for name, kernel_size, backend in (("full", FULL, "auto"), ("flex", SMALL, "flex-fna"),
                                       ("ref", SMALL, "reference")):
        na_accel.patch(pipe, recipe(kernel_size), backend=backend)
        runs[name] = _calibrated_ratios(pipe, capsys)
        # calibration skips nothing: every layer ran every step
        assert counted(pipe) == expected_counts(every_call, "full window" if kernel_size == FULL else "sparse")
        na_accel.unpatch(pipe)
    for a, b in (("full", "stock"), ("flex", "ref")):
        torch.testing.assert_close(runs[a][0], runs[b][0], atol=TOLERANCE, rtol=0)
        torch.testing.assert_close(torch.tensor(runs[a][1]), torch.tensor(runs[b][1]), atol=TOLERANCE, rtol=1e-5)
    assert runs["ref"][1] != runs["stock"][1]  # the ratios measure the sparse model, not the stock one
