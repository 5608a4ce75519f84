"""na_accel's fused GNA forward kernel, in Triton.

One program computes one query tile (a box of the token grid, ``TQ0 x TQ1 x TQ2`` tokens) for one
(batch row, head). It runs a single online softmax over

* the valid extra (text) keys of its batch row, ``BLOCK_N`` at a time, and
* the key tiles (``TK0 x TK1 x TK2`` boxes) that intersect the union of its queries' windows,
  found from the window geometry per axis: no mask tensor, no per-call mask building.

Geometry is 3-D throughout (lower-rank grids get leading axes of length 1) and runtime integers,
so a new resolution or window does not recompile; tile shapes and causality are compile-time.

Dilation is handled as NATTEN's kernels do, without moving data: along an axis with dilation d the
tokens split into d interleaved groups, a program's queries all lie in one group per axis, and
tiles are cut in group coordinates (token = group + d * coordinate). Inside a group the window
rules are the non-dilated ones (``na_accel.windows.masks`` states them):

* non-causal: queries in a stride group share the window of the group's center query (clamped
  to the group), k keys shifted inward at the borders;
* causal: the stride group's leader is its last query; query i sees keys j <= i with leader-j < k.

Text queries (``text_programs`` > 0) run in the same launch, as the first programs: each takes a
tile of text rows over every valid text key and every visual key, dense, so a joint attention is
one launch.

A key tile that lies inside every query's window on every axis is *full* and needs no mask;
only partly covered tiles are masked element-wise (perfectly block-sparse windows: never).

Tensors keep diffusers' processor layout ``[B, S, heads, head_dim]`` with the visual tokens
row-major at ``visual_start``; tokens are gathered by index arithmetic, never permuted. Each of
q, k, v and out is read through its own four strides: processors hand over views (a fused QKV
projection split by ``chunk``, head-major transposes) whose strides differ from one another, and
a head_dim stride other than 1 is read as it is (Triton specializes a stride of 1, so contiguous
rows keep their vector loads). Token offsets are 64-bit where the host finds they can pass 2**31
(``OFFSETS_64``); geometry integers are not specialized, so a new resolution does not recompile;
head_dim is (per class: divisible by 16 or not), for vector loads. The window's key tiles are the
one software-pipelined loop (``num_stages`` buffers of k and v in shared memory).
"""

from __future__ import annotations

import os

import triton
import triton.language as tl

# Under TRITON_INTERPRET=1 (CPU) tl.dot on bf16 multiplies raw bit patterns (triton #11584):
# the kernel then computes its dots in float32.
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
# Running max starts finite so fully masked rows of a tile give exp2(-inf) = 0, never NaN.
_NEG_START = tl.constexpr(-1.0e30)
LOG2E = 1.4426950408889634


@triton.jit
def _axis_window(c, m, k, s, CAUSAL: tl.constexpr):
    """[lo, hi) of the keys (group coordinates) that queries at coordinates ``c`` attend to."""
    if CAUSAL:
        leader = tl.minimum((c // s) * s + s - 1, m - 1)
        lo = tl.maximum(leader - k + 1, 0)
        hi = c + 1
    else:
        leader = tl.minimum((c // s) * s + s // 2, m - 1)
        lo = tl.minimum(tl.maximum(leader - k // 2, 0), m - k)
        hi = lo + k
    return lo, hi


@triton.jit
def _dot(a, b, IEEE: tl.constexpr):
    if IEEE:  # float32 inputs: exact products, not TF32
        return tl.dot(a, b, input_precision="ieee")
    return tl.dot(a, b)


@triton.jit
def _online_softmax_step(acc, m_i, l_i, qk, v, UPCAST: tl.constexpr, IEEE: tl.constexpr):
    m_new = tl.maximum(m_i, tl.max(qk, 1))
    p = tl.math.exp2(qk - m_new[:, None])
    alpha = tl.math.exp2(m_i - m_new)
    l_i = l_i * alpha + tl.sum(p, 1)
    if UPCAST:
        v = v.to(tl.float32)
    acc = acc * alpha[:, None] + _dot(p.to(v.dtype), v, IEEE)
    return acc, m_new, l_i


@triton.jit
def _q_tile(pid, visual_start, n0, n1, n2, d0, d1, d2, nq1, nq2, offs_m,
            TQ0: tl.constexpr, TQ1: tl.constexpr, TQ2: tl.constexpr):
    """Visual q tile ``pid``: its tokens, which are inside the grid, their coordinates in their
    dilation group per axis, the groups and the groups' lengths."""
    t2 = pid % nq2
    t1 = (pid // nq2) % nq1
    t0 = pid // (nq2 * nq1)
    g0, g1, g2 = t0 % d0, t1 % d1, t2 % d2
    m0 = (n0 - g0 + d0 - 1) // d0  # tokens in the group along each axis
    m1 = (n1 - g1 + d1 - 1) // d1
    m2 = (n2 - g2 + d2 - 1) // d2
    qc0 = (t0 // d0) * TQ0 + offs_m // (TQ1 * TQ2)
    qc1 = (t1 // d1) * TQ1 + (offs_m // TQ2) % TQ1
    qc2 = (t2 // d2) * TQ2 + offs_m % TQ2
    q_ok = (qc0 < m0) & (qc1 < m1) & (qc2 < m2)
    q_tok = visual_start + ((g0 + d0 * qc0) * n1 + (g1 + d1 * qc1)) * n2 + (g2 + d2 * qc2)
    return q_tok, q_ok, qc0, qc1, qc2, g0, g1, g2, m0, m1, m2


@triton.jit
def _dense_keys(acc, m_i, l_i, q, K, V, k_base, v_base, first, count, k_stride_s, k_stride_d, v_stride_s,
                v_stride_d, qk_scale, offs_n, offs_d, d_ok, BLOCK_N: tl.constexpr, UPCAST: tl.constexpr,
                IEEE: tl.constexpr, OFFSETS_64: tl.constexpr):
    """The online softmax over the ``count`` contiguous keys from token ``first``, BLOCK_N at a time.
    Not software-pipelined: Triton gives every pipelined loop buffers of its own, and with these
    loops pipelined too the window loop's 128 x 128 tiles no longer fit an H100's shared memory
    (294,912 B at 2 stages). The text keys are a few tiles per program; the window loop is the work."""
    for start in tl.range(0, count, BLOCK_N, num_stages=1):
        j = start + offs_n
        j_ok = j < count
        kv_mask = j_ok[:, None] & d_ok[None, :]
        k = _rows(K, k_base, first + j, k_stride_s, offs_d, k_stride_d, kv_mask, OFFSETS_64)
        v = _rows(V, v_base, first + j, v_stride_s, offs_d, v_stride_d, kv_mask, OFFSETS_64)
        if UPCAST:
            k = k.to(tl.float32)
        qk = _dot(q, tl.trans(k), IEEE)
        qk = tl.where(j_ok[None, :], qk * qk_scale, float("-inf"))
        acc, m_i, l_i = _online_softmax_step(acc, m_i, l_i, qk, v, UPCAST, IEEE)
    return acc, m_i, l_i


# Geometry changes with the resolution and the window: never specialized (Triton would compile a
# variant per value class: == 1, divisible by 16). Strides stay specialized (see the docstring), and
# so does head_dim: a model has one, and only when Triton knows it divisible by 16 is the channel
# mask ``offs_d < head_dim`` constant over 16-byte groups, so that k / v rows load as 16-byte vectors
# and the software pipeline can copy them asynchronously (unspecialized: scalar 2-byte loads, no
# pipelining; eval/kernel_codegen.py shows both).
GEOMETRY_ARGS = ["heads", "visual_start", "text_start", "text_len",
                 "n0", "n1", "n2", "k0", "k1", "k2", "s0", "s1", "s2", "d0", "d1", "d2", "nq1", "nq2", "text_programs",
                 "tune_size"]


@triton.jit
def _rows(ptr, base, token, stride_s, offs_d, stride_d, mask, OFFSETS_64: tl.constexpr):
    """Load the rows ``token`` (a vector of token indices) of one (batch row, head)."""
    if OFFSETS_64:
        token = token.to(tl.int64)
        offs_d = offs_d.to(tl.int64)
    return tl.load(ptr + base + token[:, None] * stride_s + offs_d[None, :] * stride_d, mask=mask, other=0.0)


@triton.jit(do_not_specialize=GEOMETRY_ARGS)
def gna_forward_kernel(
    Q, K, V, Out, TextValid,
    q_stride_b, q_stride_s, q_stride_h, q_stride_d,
    k_stride_b, k_stride_s, k_stride_h, k_stride_d,
    v_stride_b, v_stride_s, v_stride_h, v_stride_d,
    o_stride_b, o_stride_s, o_stride_h, o_stride_d,
    heads, head_dim, qk_scale,
    visual_start, text_start, text_len,
    n0, n1, n2, k0, k1, k2, s0, s1, s2, d0, d1, d2,
    nq1, nq2,  # q tiles along axes 1 and 2 (all dilation groups)
    text_programs,  # leading programs that compute text query rows (dense over every valid key); 0: none
    tune_size,  # unused in the kernel: the autotuner's size class (log2 of the programs launched)
    HAS_TEXT_VALID: tl.constexpr,
    C0: tl.constexpr, C1: tl.constexpr, C2: tl.constexpr,
    TQ0: tl.constexpr, TQ1: tl.constexpr, TQ2: tl.constexpr,
    TK0: tl.constexpr, TK1: tl.constexpr, TK2: tl.constexpr,
    BLOCK_D: tl.constexpr, UPCAST: tl.constexpr, IEEE: tl.constexpr,
    MASKED: tl.constexpr,  # False when the tiles are perfectly block-sparse: no key tile needs a mask
    OFFSETS_64: tl.constexpr,  # token * stride can pass 2**31 in some tensor
):
    BLOCK_M: tl.constexpr = TQ0 * TQ1 * TQ2
    BLOCK_N: tl.constexpr = TK0 * TK1 * TK2
    qk_scale = tl.cast(qk_scale, tl.float32)  # Inductor passes Python floats as float64
    pid = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // heads
    h = bh % heads
    # The first text_programs programs are text query tiles (the longest: every key), the rest
    # visual q tiles, so the long ones start first.
    is_text = pid < text_programs
    offs_m = tl.arange(0, BLOCK_M)
    if is_text:
        row = pid * BLOCK_M + offs_m
        q_ok = row < text_len
        q_tok = text_start + row
    else:
        q_tok, q_ok, _, _, _, _, _, _, _, _, _ = _q_tile(
            pid - text_programs, visual_start, n0, n1, n2, d0, d1, d2, nq1, nq2, offs_m, TQ0, TQ1, TQ2)

    offs_d = tl.arange(0, BLOCK_D)
    d_ok = offs_d < head_dim
    b64, h64 = b.to(tl.int64), h.to(tl.int64)
    q_base = b64 * q_stride_b + h64 * q_stride_h
    k_base = b64 * k_stride_b + h64 * k_stride_h
    v_base = b64 * v_stride_b + h64 * v_stride_h
    q = _rows(Q, q_base, q_tok, q_stride_s, offs_d, q_stride_d, q_ok[:, None] & d_ok[None, :], OFFSETS_64)
    if UPCAST:
        q = q.to(tl.float32)

    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    m_i = tl.full([BLOCK_M], _NEG_START, dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    offs_n = tl.arange(0, BLOCK_N)

    # Extra (text) keys: every query, text or visual, sees the valid ones of its batch row.
    if HAS_TEXT_VALID:
        n_text = tl.load(TextValid + b)
    else:
        n_text = text_len
    acc, m_i, l_i = _dense_keys(acc, m_i, l_i, q, K, V, k_base, v_base, text_start, n_text, k_stride_s, k_stride_d,
                                v_stride_s, v_stride_d, qk_scale, offs_n, offs_d, d_ok, BLOCK_N, UPCAST, IEEE, OFFSETS_64)

    if is_text:  # text queries: every visual key, as dense attention
        acc, m_i, l_i = _dense_keys(acc, m_i, l_i, q, K, V, k_base, v_base, visual_start, n0 * n1 * n2,
                                    k_stride_s, k_stride_d, v_stride_s, v_stride_d, qk_scale, offs_n, offs_d, d_ok,
                                    BLOCK_N, UPCAST, IEEE, OFFSETS_64)
    else:
        _, _, qc0, qc1, qc2, g0, g1, g2, m0, m1, m2 = _q_tile(
            pid - text_programs, visual_start, n0, n1, n2, d0, d1, d2, nq1, nq2, offs_m, TQ0, TQ1, TQ2)
        lo0, hi0 = _axis_window(qc0, m0, k0, s0, C0)
        lo1, hi1 = _axis_window(qc1, m1, k1, s1, C1)
        lo2, hi2 = _axis_window(qc2, m2, k2, s2, C2)
        BIG: tl.constexpr = 1 << 30
        # Union of the windows (which key tiles to visit) and their intersection (which need no mask).
        u_lo0 = tl.min(tl.where(q_ok, lo0, BIG), 0)
        u_lo1 = tl.min(tl.where(q_ok, lo1, BIG), 0)
        u_lo2 = tl.min(tl.where(q_ok, lo2, BIG), 0)
        u_hi0 = tl.max(tl.where(q_ok, hi0, 0), 0)
        u_hi1 = tl.max(tl.where(q_ok, hi1, 0), 0)
        u_hi2 = tl.max(tl.where(q_ok, hi2, 0), 0)
        i_lo0 = tl.max(tl.where(q_ok, lo0, 0), 0)
        i_lo1 = tl.max(tl.where(q_ok, lo1, 0), 0)
        i_lo2 = tl.max(tl.where(q_ok, lo2, 0), 0)
        i_hi0 = tl.min(tl.where(q_ok, hi0, BIG), 0)
        i_hi1 = tl.min(tl.where(q_ok, hi1, BIG), 0)
        i_hi2 = tl.min(tl.where(q_ok, hi2, BIG), 0)

        # Visual keys: the key tiles intersecting the union of this q tile's windows.
        f0, f1, f2 = u_lo0 // TK0, u_lo1 // TK1, u_lo2 // TK2
        c0 = tl.maximum((u_hi0 - 1) // TK0 - f0 + 1, 0)  # 0 for a q tile of padding only
        c1 = tl.maximum((u_hi1 - 1) // TK1 - f1 + 1, 0)
        c2 = tl.maximum((u_hi2 - 1) // TK2 - f2 + 1, 0)
        w0, w1, w2 = (hi0 - lo0).to(tl.uint32), (hi1 - lo1).to(tl.uint32), (hi2 - lo2).to(tl.uint32)  # widths
        kl0 = offs_n // (TK1 * TK2)
        kl1 = (offs_n // TK2) % TK1
        kl2 = offs_n % TK2
        for t in range(0, c0 * c1 * c2):
            a0 = (f0 + t // (c1 * c2)) * TK0  # the key tile's first coordinate per axis
            a1 = (f1 + (t // c2) % c1) * TK1
            a2 = (f2 + t % c2) * TK2
            kc0, kc1, kc2 = a0 + kl0, a1 + kl1, a2 + kl2
            k_ok = (kc0 < m0) & (kc1 < m1) & (kc2 < m2)
            k_tok = visual_start + ((g0 + d0 * kc0) * n1 + (g1 + d1 * kc1)) * n2 + (g2 + d2 * kc2)
            kv_mask = k_ok[:, None] & d_ok[None, :]
            k = _rows(K, k_base, k_tok, k_stride_s, offs_d, k_stride_d, kv_mask, OFFSETS_64)
            v = _rows(V, v_base, k_tok, v_stride_s, offs_d, v_stride_d, kv_mask, OFFSETS_64)
            if UPCAST:
                k = k.to(tl.float32)
            qk = _dot(q, tl.trans(k), IEEE)
            qk = qk * qk_scale
            full = (a0 >= i_lo0) & (a0 + TK0 <= i_hi0) & (a1 >= i_lo1) & (a1 + TK1 <= i_hi1) \
                & (a2 >= i_lo2) & (a2 + TK2 <= i_hi2)
            if MASKED:
                if not full:
                    # lo <= kc < hi as one unsigned compare per axis (fewer live [M, N] values)
                    inside = ((kc0[None, :] - lo0[:, None]).to(tl.uint32) < w0[:, None]) \
                        & ((kc1[None, :] - lo1[:, None]).to(tl.uint32) < w1[:, None]) \
                        & ((kc2[None, :] - lo2[:, None]).to(tl.uint32) < w2[:, None])
                    qk = tl.where(inside, qk, float("-inf"))
            acc, m_i, l_i = _online_softmax_step(acc, m_i, l_i, qk, v, UPCAST, IEEE)

    l_i = tl.where(l_i == 0.0, 1.0, l_i)  # padded query rows only: never stored
    out = acc / l_i[:, None]
    o_tok, o_d = q_tok, offs_d
    if OFFSETS_64:
        o_tok, o_d = q_tok.to(tl.int64), offs_d.to(tl.int64)
    o_base = b64 * o_stride_b + h64 * o_stride_h
    tl.store(Out + o_base + o_tok[:, None] * o_stride_s + o_d[None, :] * o_stride_d,
             out.to(Out.dtype.element_ty), mask=q_ok[:, None] & d_ok[None, :])
