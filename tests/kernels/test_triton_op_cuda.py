"""The Triton kernel compiled on a CUDA GPU: under torch.compile (no graph break) and captured in
a CUDA graph. Skipped without a GPU (CI has none; BENCHMARKS.md says where these ran)."""

from __future__ import annotations

import math

import pytest
import torch

from na_accel.kernels import GNACall
from na_accel.kernels.joint import gna_joint_attention
from na_accel.windows import WindowSpec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

GRID, TEXT = (24, 40), 77
CALL = GNACall(WindowSpec((12, 16), (4, 8), (1, 1), (False, False)).resolve(GRID), TEXT)


def _inputs(seed):
    generator = torch.Generator(device="cuda").manual_seed(seed)
    shape = (2, math.prod(GRID) + TEXT, 4, 128)
    return [torch.randn(shape, generator=generator, device="cuda", dtype=torch.bfloat16) for _ in range(3)]


def _gna(q, k, v):
    return gna_joint_attention(q, k, v, CALL, backend="triton")


def test_compiles_without_graph_break():
    q, k, v = _inputs(0)
    eager = _gna(q, k, v)
    compiled = torch.compile(_gna, fullgraph=True)(q, k, v)
    assert (compiled.float() - eager.float()).abs().max().item() <= 1e-2


def test_cuda_graph_replays_new_inputs():
    static = _inputs(1)
    _gna(*static)  # autotune and compile outside the capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = _gna(*static)
    fresh = _inputs(2)
    for buffer, value in zip(static, fresh):
        buffer.copy_(value)
    graph.replay()
    torch.cuda.synchronize()
    assert (out.float() - _gna(*fresh).float()).abs().max().item() == 0.0
