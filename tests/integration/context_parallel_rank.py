"""One rank of test_context_parallel.py: a tiny FLUX transformer under diffusers' Ulysses context
parallelism on CPU (gloo), stock and patched, single-process and parallel.

Run as ``python context_parallel_rank.py RANK WORLD INIT_FILE OUT_DIR``; writes OUT_DIR/rank{RANK}.pt
with the outputs and na_accel's counts, for the test (the parent process) to check.
"""

from __future__ import annotations

import sys
import warnings
from unittest import mock

import torch
import torch.distributed as dist

SMALL = {"model": "flux", "default": {"kernel_size": [3, 3]}}  # sparse on the 6x8 grid
FULL = {"model": "flux", "default": {"kernel_size": [999, 999]}}  # clamped to the grid: full window


def patched_run(na_accel, transformer, inputs, recipe):
    """(output, totals) of one forward of ``transformer`` patched with ``recipe`` (then unpatched)."""
    na_accel.patch(transformer, recipe, backend="reference")
    with torch.no_grad():
        out = transformer(**inputs, return_dict=False)[0]
    totals = dict(na_accel.describe(transformer).transformers[0].totals)
    na_accel.unpatch(transformer)
    return out, totals


def enable_ulysses(transformer, config_class, world: int) -> None:
    # diffusers picks the device as rank % accelerator count: 0 on a CPU-only torch, so say 1
    with mock.patch("torch.accelerator.device_count", return_value=1):
        transformer.enable_parallelism(config=config_class(ulysses_degree=world))


def main(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    import na_accel
    from diffusers import ContextParallelConfig
    from na_accel import tiny

    transformer = tiny.tiny_flux_transformer(seed=0)
    transformer.set_attention_backend("native")  # a backend diffusers' context parallelism accepts
    # batch 2; 6x8 image tokens and 8 text tokens: both split evenly over 2 ranks
    # every rank feeds the same inputs (the cp plan's split hook takes this rank's chunk)
    inputs = tiny.flux_transformer_inputs(6, 8, batch=2, text_len=8, seed=1)
    results = {}
    with torch.no_grad():
        results["stock_single"] = transformer(**inputs, return_dict=False)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results["small_single"], results["small_single_counts"] = patched_run(na_accel, transformer, inputs, SMALL)
        enable_ulysses(transformer, ContextParallelConfig, world)
        with torch.no_grad():
            results["stock_parallel"] = transformer(**inputs, return_dict=False)[0]
        results["small_parallel"], results["small_parallel_counts"] = patched_run(na_accel, transformer, inputs, SMALL)
        results["full_parallel"], results["full_parallel_counts"] = patched_run(na_accel, transformer, inputs, FULL)
        with torch.no_grad():  # unpatched under context parallelism: stock again
            results["unpatched_parallel"] = transformer(**inputs, return_dict=False)[0]

        # the other order: patch, then enable_parallelism (which sets the GNA processors' config)
        patched_first = tiny.tiny_flux_transformer(seed=0)
        patched_first.set_attention_backend("native")
        na_accel.patch(patched_first, SMALL, backend="reference")
        enable_ulysses(patched_first, ContextParallelConfig, world)
        with torch.no_grad():
            results["patched_first"] = patched_first(**inputs, return_dict=False)[0]
        results["patched_first_counts"] = dict(na_accel.describe(patched_first).transformers[0].totals)
    torch.save(results, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
