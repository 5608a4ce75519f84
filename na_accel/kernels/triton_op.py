"""The Triton GNA kernel as a torch custom op: ``torch.ops.na_accel.gna_forward``.

Registered with ``torch.library.triton_op`` so ``torch.compile`` traces it without a graph break
(Inductor sees the Triton kernel itself) and CUDA graphs can capture it. Tiles are chosen per
window within the device's resources (``triton_tiles.TileBudget``: head_dim, element size, shared
memory per block and compute capability read from the device); launch configurations (warps, and
the pipeline stages whose buffers fit: ``triton_tiles.launch_configs``) are autotuned per tile
shape on the GPU. ``plan_launch`` is the whole launch as data, so ``eval/kernel_codegen.py``
compiles for any GPU what would run there. Under ``TRITON_INTERPRET=1`` one configuration runs
(the interpreter cannot autotune).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence

import torch
import triton

from .base import check_attention_inputs
from .triton_gna import INTERPRETED, LOG2E, gna_forward_kernel
from .triton_tiles import LaunchConfig, TileBudget, TritonTiles, as_3d, block_d, choose_tiles, launch_configs

# tune_size: the launch's programs as a power of two: warps and stages are tuned again where the
# grid is much smaller or larger (few programs leave SMs idle), not at every resolution
_TUNE_KEY = ["BLOCK_D", "TQ0", "TQ1", "TQ2", "TK0", "TK1", "TK2", "C0", "C1", "C2", "HAS_TEXT_VALID",
             "IEEE", "MASKED", "OFFSETS_64", "tune_size"]
INT32_LIMIT = 2**31 - 1
# NA_ACCEL_TRITON_AUTOTUNE=0 launches one configuration (quick checks that compile many shapes).
AUTOTUNE = os.environ.get("NA_ACCEL_TRITON_AUTOTUNE", "1") != "0"


@lru_cache(maxsize=None)
def _kernel(configs: tuple[LaunchConfig, ...]):
    """The kernel, autotuned over ``configs`` where there are several."""
    if INTERPRETED:
        return gna_forward_kernel
    return triton.autotune(configs=[triton.Config({}, num_warps=c.warps, num_stages=c.stages) for c in configs],
                           key=_TUNE_KEY)(gna_forward_kernel)


def device_shared_memory(device: torch.device) -> int | None:
    """Shared memory per block (bytes, opt-in maximum) of a CUDA device; None elsewhere."""
    if device.type != "cuda":
        return None
    return _cuda_shared_memory(device.index if device.index is not None else torch.cuda.current_device())


@lru_cache(maxsize=None)
def _cuda_shared_memory(index: int) -> int:
    found = getattr(torch.cuda.get_device_properties(index), "shared_memory_per_block_optin", None)
    if found:
        return int(found)
    return int(triton.runtime.driver.active.utils.get_device_properties(index)["max_shared_mem"])


def device_capability(device: torch.device) -> int | None:
    """Compute capability of a CUDA device as one number (9.0 -> 90); None elsewhere."""
    if device.type != "cuda":
        return None
    major, minor = torch.cuda.get_device_capability(device)
    return 10 * major + minor


def tile_budget(query: torch.Tensor) -> TileBudget:
    return TileBudget(query.shape[-1], query.element_size(), device_shared_memory(query.device),
                      device_capability(query.device))


@torch.library.triton_op("na_accel::gna_forward", mutates_args=())
def gna_forward(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    text_valid: Optional[torch.Tensor],
    geometry: list[int],
    causal: list[bool],
    text_len: int,
    text_first: bool,
    scale: float,
    tiles: list[int],
    fuse_text: bool,
) -> torch.Tensor:
    """GNA for the visual queries of [B, S, heads, head_dim] tensors; with ``fuse_text`` the text
    rows too (dense over every valid key, in the same launch), else they are left for the caller.

    ``geometry`` = grid + kernel_size + stride + dilation (3 axes each), ``tiles`` = q tile +
    kv tile (3 axes each) + the number of partly covered tile pairs (0: no masking compiled in);
    ``text_valid`` (int32 [B]) counts the valid text keys per batch row.
    """
    return _launch(query, key, value, text_valid, geometry, causal, text_len, text_first, scale, tiles, fuse_text,
                   wrap=True)


def _launch(query, key, value, text_valid, geometry, causal, text_len, text_first, scale, tiles, fuse_text, *,
            wrap: bool) -> torch.Tensor:
    """The kernel launch of ``gna_forward``; ``wrap``: through ``torch.library.wrap_triton``, as the
    custom op must launch for torch.compile to see the kernel (eager calls launch it directly)."""
    out = query.new_empty(query.shape)  # contiguous whatever the query's strides: what processors flatten
    launch = plan_launch(query, key, value, out, text_valid, geometry, causal, text_len, text_first, scale, tiles,
                         fuse_text, tile_budget(query))
    tuned = _kernel(launch.configs)
    launcher = torch.library.wrap_triton(tuned) if wrap else tuned
    launcher[launch.program_grid](*launch.args, **launch.constexprs)
    return out


@dataclass(frozen=True)
class KernelLaunch:
    """Everything one launch of ``gna_forward_kernel`` is given: the program grid, the runtime
    arguments in the kernel's order, the compile-time ones, and the launch configurations the
    autotuner may pick among. Computed from the tensors' shapes, strides and dtypes only, so
    ``eval/kernel_codegen.py`` compiles exactly what a launch on a GPU would (meta tensors will do)."""

    program_grid: tuple[int, int]  # (q tiles, batch x heads)
    args: tuple
    constexprs: dict
    configs: tuple[LaunchConfig, ...]


def plan_launch(query, key, value, out, text_valid, geometry, causal, text_len, text_first, scale, tiles, fuse_text,
                budget: TileBudget, *, autotune: bool = AUTOTUNE) -> KernelLaunch:
    """The launch of ``gna_forward_kernel`` for ``gna_forward``'s arguments, ``out`` given."""
    batch, seq, heads, head_dim = query.shape
    grid, kernel, stride, dilation = (geometry[i:i + 3] for i in range(0, 12, 3))
    q_tile, kv_tile = tiles[:3], tiles[3:6]
    n_visual = math.prod(grid)
    # q tiles per axis: every dilation group tiled on its own (the longest group's tile count).
    nq = [d * _cdiv(_cdiv(n, d), t) for n, d, t in zip(grid, dilation, q_tile)]
    text_programs = _cdiv(text_len, math.prod(q_tile)) if fuse_text else 0
    programs = text_programs + nq[0] * nq[1] * nq[2]
    tensors = (query, key, value, out)
    args = (
        *tensors, text_valid,
        *(stride for t in tensors for stride in t.stride()),
        heads, head_dim, scale * LOG2E,
        text_len if text_first else 0, 0 if text_first else n_visual, text_len,
        *grid, *kernel, *stride, *dilation,
        nq[1], nq[2], text_programs, (programs * batch * heads).bit_length(),
    )
    constexprs = dict(
        HAS_TEXT_VALID=text_valid is not None,
        C0=causal[0], C1=causal[1], C2=causal[2],
        TQ0=q_tile[0], TQ1=q_tile[1], TQ2=q_tile[2],
        TK0=kv_tile[0], TK1=kv_tile[1], TK2=kv_tile[2],
        BLOCK_D=block_d(head_dim),
        UPCAST=INTERPRETED and query.dtype != torch.float32,
        IEEE=query.dtype == torch.float32,
        MASKED=tiles[6] > 0,
        OFFSETS_64=any(needs_64bit_offsets(t) for t in tensors),
    )
    configs = launch_configs(budget, math.prod(q_tile), math.prod(kv_tile), tiles[6] > 0, autotune=autotune)
    return KernelLaunch((programs, batch * heads), args, constexprs, configs)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)  # triton.cdiv is a constexpr function with an import per call


def needs_64bit_offsets(tensor: torch.Tensor) -> bool:
    """Whether a token's or a channel's offset inside one (batch row, head) can pass int32: the
    kernel multiplies token x stride in 32 bits unless told otherwise (batch and head offsets are
    always 64-bit)."""
    _, seq, _, head_dim = tensor.shape
    return max((seq - 1) * tensor.stride(1), (head_dim - 1) * tensor.stride(3)) > INT32_LIMIT


# torch.compile calls this once while tracing and keeps the result as a constant (the tile search
# runs numpy, which dynamo would otherwise try to trace).
@torch.compiler.assume_constant_result
def _chosen_tiles(grid, kernel_size, stride, dilation, is_causal, text_len, budget) -> list[int]:
    tiles = choose_tiles(grid, kernel_size, stride, dilation, is_causal, text_len, budget)
    return list(tiles.q_tile + tiles.kv_tile) + [tiles.partial]


@lru_cache(maxsize=256)
def _valid_lengths(lengths: tuple[int, ...], device: str) -> torch.Tensor:
    return torch.tensor(lengths, dtype=torch.int32, device=device)


def triton_visual_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    grid: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    is_causal: Sequence[bool],
    text_len: int,
    text_first: bool,
    text_valid_lens: Sequence[int] | None = None,
    scale: float | None = None,
    tiles: TritonTiles | None = None,
    fuse_text: bool = False,
) -> torch.Tensor:
    """[B, S, heads, head_dim] -> same shape; visual rows hold GNA over the neighborhood plus the
    row's valid text keys (one softmax); text rows hold dense attention over every valid key with
    ``fuse_text``, else they are uninitialized (the caller's to fill).
    q, k and v may be views with strides of their own (the kernel reads each through its own)."""
    check_attention_inputs(query, key, value)
    args = op_arguments(query, key, value, grid=grid, kernel_size=kernel_size, stride=stride, dilation=dilation,
                        is_causal=is_causal, text_len=text_len, text_first=text_first,
                        text_valid_lens=text_valid_lens, scale=scale, tiles=tiles, fuse_text=fuse_text,
                        budget=tile_budget(query))
    if torch.compiler.is_compiling():
        return gna_forward(*args)  # the custom op: Inductor sees the Triton kernel, CUDA graphs capture it
    # eager: the same launch without the custom op's dispatch (autograd wrapper, redispatch,
    # aliasing checks: ~50-90 us of host time per call measured on a CPU)
    return _launch(*args, wrap=False)


def op_arguments(query, key, value, *, grid, kernel_size, stride, dilation, is_causal, text_len, text_first,
                 text_valid_lens, scale, tiles, fuse_text, budget: TileBudget) -> tuple:
    """The arguments of ``gna_forward`` for this call, tiles chosen within ``budget`` unless given."""
    grid3, kernel3, stride3, dilation3 = (as_3d(v, 1) for v in (grid, kernel_size, stride, dilation))
    causal3 = as_3d(tuple(bool(c) for c in is_causal), False)
    tile_params = _chosen_tiles(grid3, kernel3, stride3, dilation3, causal3, text_len, budget) if tiles is None \
        else list(tiles.q_tile + tiles.kv_tile) + [tiles.partial]
    text_valid = None
    if text_valid_lens is not None and any(int(n) != text_len for n in text_valid_lens):
        text_valid = _valid_lengths(tuple(int(n) for n in text_valid_lens), str(query.device))
    return (query, key, value, text_valid, list(grid3 + kernel3 + stride3 + dilation3), list(causal3), text_len,
            text_first, query.shape[-1] ** -0.5 if scale is None else float(scale), tile_params,
            bool(fuse_text and text_len))
