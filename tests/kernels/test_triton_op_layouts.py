"""The Triton kernel's input contract: whatever strides q, k and v arrive with, it reads each
through its own, and equals the explicit-mask reference.

The layouts are those processors really hand over: a fused QKV projection split by ``chunk``
(FLUX, Wan and Qwen-Image after ``fuse_qkv_projections()``; FLUX.2's single blocks fuse the MLP
in too), head-major transposes (Cosmos), k and v with layouts unlike the query's, a head_dim
stride other than 1; head_dims that are not powers of two; 64-bit token offsets.
"""

from __future__ import annotations

import math

import pytest
import torch

from na_accel.kernels import triton_op
from na_accel.kernels.base import check_attention_inputs
from na_accel.kernels import GNACall
from na_accel.kernels.joint import gna_joint_attention
from na_accel.kernels.triton_gna import GEOMETRY_ARGS
from na_accel.windows import WindowSpec

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
GRID, TEXT, HEADS = (5, 7), 6, 2
WINDOW = WindowSpec((3, 4), (2, 3), (1, 2), (False, False)).resolve(GRID)
SEQ = math.prod(GRID) + TEXT


def _fused_qkv(head_dim, gen, extra=0):
    """q, k, v split from one projection (+ ``extra`` MLP channels, as FLUX.2's single blocks)."""
    fused = torch.randn(2, SEQ, 3 * HEADS * head_dim + extra, generator=gen)
    q, k, v, _ = fused.split([HEADS * head_dim] * 3 + [extra], dim=-1)
    return [t.unflatten(-1, (HEADS, head_dim)) for t in (q, k, v)]


def _head_major(head_dim, gen):
    """[B, heads, S, D] tensors transposed to [B, S, heads, D] (Cosmos' layout)."""
    return [torch.randn(2, HEADS, SEQ, head_dim, generator=gen).transpose(1, 2) for _ in range(3)]


def _mixed(head_dim, gen):
    """A contiguous query, a head-major key, and a value whose head_dim stride is not 1."""
    q = torch.randn(2, SEQ, HEADS, head_dim, generator=gen)
    k = torch.randn(2, HEADS, SEQ, head_dim, generator=gen).transpose(1, 2)
    v = torch.randn(2, SEQ, head_dim, HEADS, generator=gen).transpose(2, 3)
    return [q, k, v]


LAYOUTS = {"fused-qkv": _fused_qkv, "fused-qkv-mlp": lambda d, g: _fused_qkv(d, g, extra=40),
           "head-major": _head_major, "mixed": _mixed}


def _check(q, k, v, tolerance=1e-5):
    call = GNACall(WINDOW, TEXT, text_valid_lens=(TEXT, 2))
    out = gna_joint_attention(q, k, v, call, backend="triton")
    ref = gna_joint_attention(q.contiguous(), k.contiguous(), v.contiguous(), call, backend="reference")
    visual = slice(TEXT, None)
    assert (out[:, visual] - ref[:, visual]).abs().max().item() <= tolerance
    return out


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_views_with_their_own_strides_match_reference(layout):
    q, k, v = (t.to(DEVICE) for t in LAYOUTS[layout](16, torch.Generator().manual_seed(3)))
    assert not all(t.is_contiguous() for t in (q, k, v))
    assert len({t.stride() for t in (q, k, v)}) > 1 or not q.is_contiguous()
    out = _check(q, k, v)
    assert out.is_contiguous()  # what the processors flatten without a copy


@pytest.mark.parametrize("head_dim", [24, 72, 80, 96, 256])
def test_head_dims_that_are_not_powers_of_two_and_256(head_dim):
    q, k, v = (t.to(DEVICE) for t in _fused_qkv(head_dim, torch.Generator().manual_seed(head_dim)))
    _check(q, k, v)


def test_64bit_token_offsets_give_the_same_result(monkeypatch):
    q, k, v = (t.to(DEVICE) for t in _mixed(16, torch.Generator().manual_seed(5)))
    narrow = _check(q, k, v)
    monkeypatch.setattr(triton_op, "INT32_LIMIT", 0)  # every tensor now takes the 64-bit path
    assert triton_op.needs_64bit_offsets(q)
    assert torch.equal(_check(q, k, v)[:, TEXT:], narrow[:, TEXT:])


def test_offsets_past_int32_are_detected():
    heads, dim = 24, 128
    per_token = 3 * heads * dim  # a fused QKV view: 9216 elements between tokens
    near = torch.empty_strided((1, 2**31 // per_token, heads, dim), (0, per_token, dim, 1), device="meta")
    far = torch.empty_strided((1, 2**31 // per_token + 2, heads, dim), (0, per_token, dim, 1), device="meta")
    assert not triton_op.needs_64bit_offsets(near) and triton_op.needs_64bit_offsets(far)


def test_mismatched_inputs_are_refused_by_name():
    q = torch.zeros(2, SEQ, HEADS, 16)
    with pytest.raises(ValueError, match=r"value is \(2, 41, 1, 16\) float32 on cpu, query \(2, 41, 2, 16\)"):
        check_attention_inputs(q, q, q[:, :, :1])
    with pytest.raises(ValueError, match="key is .* float16"):
        check_attention_inputs(q, q.half(), q)
    with pytest.raises(ValueError, match=r"query must be \[batch, tokens, heads, head_dim\], got shape \(41, 16\)"):
        check_attention_inputs(q[0, :, 0], q, q)


def test_geometry_integers_are_not_specialized_and_head_dim_is():
    """Every runtime integer of the kernel that is not a stride or head_dim is in do_not_specialize:
    a new resolution or window never compiles a new variant. head_dim is specialized (per class:
    divisible by 16 or not), so the channel mask is known constant over 16-byte groups and k / v
    load as vectors (tests/eval/test_kernel_codegen.py reads the loads in the compiled kernel).
    Read from the compiled kernel's signature, in a process without the interpreter."""
    import subprocess
    import sys

    code = ("import os; os.environ['TRITON_INTERPRET'] = '0'\n"
            "from na_accel.kernels.triton_gna import gna_forward_kernel as k\n"
            "print([p.name for p in k.params if not p.is_constexpr and p.name[0].islower()"
            " and 'stride' not in p.name and p.name != 'qk_scale'])\n"
            "print([p.name for p in k.params if p.do_not_specialize])\n")
    runtime_ints, unspecialized = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                 check=True).stdout.strip().splitlines()
    assert "head_dim" in eval(runtime_ints) and "head_dim" not in eval(unspecialized)
    assert [name for name in eval(runtime_ints) if name != "head_dim"] == eval(unspecialized) == GEOMETRY_ARGS
