"""na_accel under diffusers' context parallelism (``transformer.enable_parallelism``).

Ulysses gives each rank every token for a subset of heads inside attention, so GNA runs there
(na_accel/kernels/ulysses.py): checked for FLUX, FLUX.2 and Wan with 2 real CPU processes (gloo)
against one process.
Ring attention (and ring + Ulysses, and ``ulysses_anything``) keeps the counted stock fallback:
ring can't run on CPU at all (its native backend has no log-sum-exp), so those configs are set on
the processors by hand and the stock attention is run unsharded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from diffusers import ContextParallelConfig, ParallelConfig

import na_accel
from na_accel import tiny
from na_accel.runtime.seam import RoutedProcessor

REPO = Path(__file__).resolve().parents[2]
RANK_SCRIPT = Path(__file__).with_name("context_parallel_rank.py")
WORLD = 2
# GNA layers, one call each per forward: tiny FLUX / FLUX.2 have 2 dual- + 2 single-stream blocks,
# tiny Wan 2 blocks (their self attention)
LAYERS = {"flux": 4, "flux2": 4, "wan": 2}


def _run_ranks(out: Path) -> list[dict]:
    """Each rank's results of context_parallel_rank.py, run as WORLD gloo processes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    ranks = [
        subprocess.Popen(
            [sys.executable, str(RANK_SCRIPT), str(rank), str(WORLD), str(out / "init"), str(out)],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in range(WORLD)
    ]
    logs = []
    try:
        for process in ranks:
            logs.append(process.communicate(timeout=300)[0])
    finally:
        for process in ranks:
            if process.poll() is None:
                process.kill()
    for rank, (process, log) in enumerate(zip(ranks, logs)):
        assert process.returncode == 0, f"rank {rank} failed:\n{log[-4000:]}"
    return [torch.load(out / f"rank{rank}.pt") for rank in range(WORLD)]


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def test_gna_under_ulysses_on_two_gloo_processes_equals_one_process(tmp_path):
    """One test, so the two ranks start once (most of their time is importing torch and diffusers)."""
    for rank, by_family in enumerate(_run_ranks(tmp_path)):
        assert sorted(by_family) == sorted(LAYERS)
        for family, results in by_family.items():
            where, layers = f"{family}, rank {rank}", LAYERS[family]
            # stock Ulysses runs on CPU/gloo and matches one process
            assert _max_diff(results["stock_parallel"], results["stock_single"]) <= 1e-5, where
            # a small window: really sparse (far from stock, so a wrong token order would show) and
            # the same under Ulysses as in one process; this rank's calls all ran sparse
            assert _max_diff(results["small_single"], results["stock_single"]) > 1e-2, where
            assert results["small_single_counts"] == {"sparse": layers}, where
            assert _max_diff(results["small_parallel"], results["small_single"]) <= 1e-5, where
            assert results["small_parallel_counts"] == {"sparse": layers}, where
            # patched before enable_parallelism: enable_parallelism reaches the GNA processors too
            assert _max_diff(results["patched_first"], results["small_single"]) <= 1e-5, where
            assert results["patched_first_counts"] == {"sparse": layers}, where
            # a full window (through GNA) reproduces stock; unpatch restores stock Ulysses exactly
            assert _max_diff(results["full_parallel"], results["stock_single"]) <= 1e-5, where
            assert results["full_parallel_counts"] == {"full window": layers}, where
            assert torch.equal(results["unpatched_parallel"], results["stock_parallel"]), where


def _without_parallel_config(dispatch):
    """diffusers' dispatch_attention_fn run unsharded: the stock fallback of a single process."""
    def unsharded(*args, parallel_config=None, **kwargs):
        return dispatch(*args, **kwargs)
    return unsharded


def _set_up_ulysses(degree: int) -> ContextParallelConfig:
    """A Ulysses config whose mesh looks set up (no process group is needed: GNA never runs)."""
    config = ContextParallelConfig(ulysses_degree=degree)
    config._ulysses_mesh = SimpleNamespace(get_group=lambda: None)
    return config


def _run_under_parallel_config(transformer, inputs, model_module, config):
    """One call of a patched transformer whose routed processors carry ``config`` (set by hand), with
    ``model_module``'s dense attention run unsharded: (output, describe's totals)."""
    for module in transformer.modules():
        if isinstance(getattr(module, "processor", None), RoutedProcessor):
            module.processor._parallel_config = ParallelConfig(context_parallel_config=config)
    dispatch = _without_parallel_config(model_module.dispatch_attention_fn)
    with mock.patch.object(model_module, "dispatch_attention_fn", dispatch), pytest.warns(
        UserWarning, match="ran dense attention"
    ), torch.no_grad():
        out = transformer(**inputs).sample
    return out, dict(na_accel.describe(transformer).transformers[0].totals)


@pytest.mark.parametrize(
    "config, grid, reason",
    [
        (ContextParallelConfig(ring_degree=2), (4, 6),
         "context parallelism with ring attention (ring_degree=2, ulysses_degree=1)"),
        (ContextParallelConfig(ring_degree=2, ulysses_degree=2), (4, 6),
         "ring attention (ring_degree=2, ulysses_degree=2)"),
        (ContextParallelConfig(ulysses_degree=2, ulysses_anything=True), (4, 6),
         "context parallelism with ulysses_anything"),
        (ContextParallelConfig(ulysses_degree=2), (4, 6),
         "context parallelism is configured but its device mesh is not set up"),
        (_set_up_ulysses(2), (5, 7), "ulysses_degree=2 does not divide the 35 visual and 4 text tokens"),
        # a Ulysses config but the sequence arrives whole (a cp plan that doesn't split it)
        (_set_up_ulysses(2), (4, 6), "(this rank's 1/2 Ulysses shard) does not match grid (4, 6)"),
    ],
    ids=["ring", "ring+ulysses", "ulysses_anything", "no-mesh", "uneven-tokens", "unsplit-sequence"],
)
def test_context_parallel_configs_gna_cant_run_under_are_counted_dense(config, grid, reason):
    from diffusers.models.transformers import transformer_flux

    transformer = tiny.tiny_flux_transformer(seed=0)
    inputs = tiny.flux_transformer_inputs(*grid, batch=2, text_len=4, seed=3)
    with torch.no_grad():
        stock = transformer(**inputs).sample
    na_accel.patch(transformer, {"model": "flux", "default": {"kernel_size": [3, 3]}}, backend="reference")
    out, totals = _run_under_parallel_config(transformer, inputs, transformer_flux, config)
    assert torch.equal(out, stock)
    assert len(totals) == 1 and sum(totals.values()) == LAYERS["flux"]
    (outcome,) = totals
    assert outcome.startswith("dense: ") and reason in outcome, outcome


def test_a_processor_without_a_ulysses_path_counts_context_parallelism_dense():
    """Qwen-Image has no Ulysses path (its text padding mask would need the all-gather stock
    Ulysses does): stock, counted."""
    from diffusers.models.transformers import transformer_qwenimage

    transformer = tiny.tiny_qwen_image_transformer(seed=0)
    inputs = tiny.qwen_image_transformer_inputs(transformer, (4, 4), batch=1, text_len=4)
    with torch.no_grad():
        stock = transformer(**inputs).sample
    na_accel.patch(transformer, {"model": "qwen_image", "default": {"kernel_size": [3, 3]}}, backend="reference")
    out, totals = _run_under_parallel_config(
        transformer, inputs, transformer_qwenimage, ContextParallelConfig(ulysses_degree=2)
    )
    assert torch.equal(out, stock)
    patched = [m for m in transformer.modules() if isinstance(getattr(m, "processor", None), RoutedProcessor)]
    reason = "dense: context parallelism shards the sequence (this family has no Ulysses path)"
    assert totals == {reason: len(patched)}
