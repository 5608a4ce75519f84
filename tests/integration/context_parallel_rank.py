"""One rank of test_context_parallel.py: tiny FLUX, FLUX.2 and Wan transformers under diffusers' Ulysses
context parallelism on CPU (gloo), stock and patched, single-process and parallel.

Run as ``python context_parallel_rank.py RANK WORLD INIT_FILE OUT_DIR``; writes OUT_DIR/rank{RANK}.pt
with the outputs and na_accel's counts, for the test (the parent process) to check.
"""

from __future__ import annotations

import sys
import warnings
from unittest import mock

import torch
import torch.distributed as dist

# family -> (transformer, inputs, small window): FLUX / FLUX.2 with 6x8 image tokens and 8 text
# tokens, Wan with a 2x4x4 video grid: split evenly over 2 ranks; batch 2. Every rank feeds the same
# inputs (the cp plan's split hook takes this rank's chunk).
FAMILIES = {
    "flux": (lambda tiny: tiny.tiny_flux_transformer(seed=0),
             lambda tiny, t: tiny.flux_transformer_inputs(6, 8, batch=2, text_len=8, seed=1), [3, 3]),
    "flux2": (lambda tiny: tiny.tiny_flux2_transformer(seed=0),
              lambda tiny, t: tiny.flux2_transformer_inputs(t, (6, 8), batch=2, text_len=8, seed=1), [3, 3]),
    "wan": (lambda tiny: tiny.tiny_wan_transformer(seed=0),
            lambda tiny, t: tiny.wan_transformer_inputs(t, (2, 4, 4), batch=2, seed=1), [2, 3, 3]),
}


def recipe(family: str, kernel_size: list[int]) -> dict:
    return {"model": family, "default": {"kernel_size": kernel_size}}


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


def family_results(family: str, world: int) -> dict:
    import na_accel
    from diffusers import ContextParallelConfig
    from na_accel import tiny

    make, make_inputs, kernel_size = FAMILIES[family]
    small, full = recipe(family, kernel_size), recipe(family, [999] * len(kernel_size))  # clamped: full window

    def fresh():
        transformer = make(tiny)
        transformer.set_attention_backend("native")  # a backend diffusers' context parallelism accepts
        return transformer

    transformer = fresh()
    inputs = make_inputs(tiny, transformer)
    results = {}
    with torch.no_grad():
        results["stock_single"] = transformer(**inputs, return_dict=False)[0]
    results["small_single"], results["small_single_counts"] = patched_run(na_accel, transformer, inputs, small)
    enable_ulysses(transformer, ContextParallelConfig, world)
    with torch.no_grad():
        results["stock_parallel"] = transformer(**inputs, return_dict=False)[0]
    results["small_parallel"], results["small_parallel_counts"] = patched_run(na_accel, transformer, inputs, small)
    results["full_parallel"], results["full_parallel_counts"] = patched_run(na_accel, transformer, inputs, full)
    with torch.no_grad():  # unpatched under context parallelism: stock again
        results["unpatched_parallel"] = transformer(**inputs, return_dict=False)[0]

    # the other order: patch, then enable_parallelism (which sets the GNA processors' config)
    patched_first = fresh()
    na_accel.patch(patched_first, small, backend="reference")
    enable_ulysses(patched_first, ContextParallelConfig, world)
    with torch.no_grad():
        results["patched_first"] = patched_first(**inputs, return_dict=False)[0]
    results["patched_first_counts"] = dict(na_accel.describe(patched_first).transformers[0].totals)
    return results


def main(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # diffusers' experimental-feature notices
        results = {family: family_results(family, world) for family in FAMILIES}
    torch.save(results, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
