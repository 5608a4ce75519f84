"""Kernel tile shapes of NATTEN's backends, read from NATTEN's own config tables (no GPU needed).

NATTEN's fused kernels tile the (padded) token grid into query tiles and key/value tiles, one
shape per grid axis, and skip (q tile, kv tile) pairs no query of the q tile attends into. Which
tiles a backend uses depends on the grid rank (1-3), and for ``hopper-fna`` on head_dim and dtype.
The tables live in ``natten/backends/configs/<backend>/__init__.py``:

* ``hopper-fna``: ``HOPPER_FORWARD_CONFIGS[rank][dtype bits][head_dim]`` (fp16/bf16 only;
  head_dim 32, 64, 128, 256); NATTEN's default is the first entry.
* ``blackwell-fna``: ``BLACKWELL_FORWARD_TILE_SHAPES[rank]``; default
  ``_get_default_tile_shapes_forward(rank)``.
* ``cutlass-fna``: the 32x128, 64x64 and 64x128 GEMM tables (the last only on SM80/90/100/103);
  default ``_get_default_tile_shapes_forward(rank)``.
* ``flex-fna``: ``FLEX_FORWARD_TILE_SHAPES[rank]``; default ``_get_default_tile_shapes_forward(rank)``.
* ``triton`` (na_accel's kernel): ``na_accel.kernels.triton_tiles.TILE_TABLE[rank]``; the kernel
  itself picks its tiles per window (``choose_tiles``), and finds these for windows snapped to them.

When several tile shapes exist, NATTEN's default for the backend is used unless the caller picks
another (``q_tile``/``kv_tile``). NATTEN's config modules import torch; for the NATTEN release
na_accel pins, ``natten_tile_snapshot`` holds the same tables, so ``estimate`` starts without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import ArgumentError
from ..windows import format_axes

TILE_BACKENDS = ("hopper-fna", "blackwell-fna", "cutlass-fna", "flex-fna", "triton")
# The backend the published GNA figures were measured on (H100), and the estimator's default.
DEFAULT_TILE_BACKEND = "hopper-fna"
HOPPER_HEAD_DIMS_NOTE = "hopper-fna tiles exist for fp16/bf16 only"


def check_tile_backend(backend) -> None:
    """An ArgumentError unless ``backend`` names a tile table."""
    if backend not in TILE_BACKENDS:
        raise ArgumentError(f"backend: {backend!r} has no tile tables; allowed: {list(TILE_BACKENDS)}")


@dataclass(frozen=True)
class TileShape:
    """One (q tile, kv tile) configuration of a kernel, per token-grid axis."""

    q_tile: tuple[int, ...]
    kv_tile: tuple[int, ...]
    backend: str  # a tile_backend name (TILE_BACKENDS), or "explicit"
    source: str  # where the shape comes from

    @property
    def rank(self) -> int:
        return len(self.q_tile)

    def describe(self) -> str:
        return f"{self.backend} q tile {format_axes(self.q_tile)} kv tile {format_axes(self.kv_tile)}"

    def to_dict(self) -> dict:
        return {"backend": self.backend, "q_tile": list(self.q_tile), "kv_tile": list(self.kv_tile),
                "source": self.source}


def _pairs(entries) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    out = []
    for entry in entries:
        pair = entry[0] if isinstance(entry[0][0], tuple) else entry  # hopper: ((q, kv), schedule)
        pair = (tuple(pair[0]), tuple(pair[1]))
        if pair not in out:
            out.append(pair)
    return out


def tile_options(backend: str, rank: int, head_dim: int = 128, dtype_bits: int = 16) -> list[TileShape]:
    """Every forward tile configuration NATTEN lists for ``backend``; NATTEN's default first."""
    check_tile_backend(backend)
    if rank not in (1, 2, 3):
        raise ArgumentError(f"rank: NATTEN runs 1-, 2- and 3-D neighborhoods, got a {rank}-D grid")
    if backend == "triton":
        from .triton_tiles import TILE_TABLE

        pairs, where = TILE_TABLE[rank], f"na_accel triton TILE_TABLE[{rank}]"
    else:
        from .natten_tile_snapshot import snapshot_pairs

        pairs, where = snapshot_pairs(backend, rank, head_dim, dtype_bits) or natten_pairs(backend, rank, head_dim,
                                                                                            dtype_bits)
    return [
        TileShape(tuple(q), tuple(kv), backend, where + (" (the backend's default)" if i == 0 else ""))
        for i, (q, kv) in enumerate(pairs)
    ]


def natten_pairs(backend: str, rank: int, head_dim: int, dtype_bits: int) -> tuple[list, str]:
    """(q tile, kv tile) pairs of a NATTEN backend, its default first, and where NATTEN lists them:
    read from NATTEN's config modules (which import torch)."""
    if backend == "hopper-fna":
        from natten.backends.configs.cutlass_hopper import HOPPER_FORWARD_CONFIGS

        by_bits = HOPPER_FORWARD_CONFIGS[rank]
        if dtype_bits not in by_bits:
            raise ArgumentError(
                f"dtype: hopper-fna has no {dtype_bits}-bit configurations ({HOPPER_HEAD_DIMS_NOTE})"
            )
        by_head = by_bits[dtype_bits]
        if head_dim not in by_head:
            raise ArgumentError(
                f"head_dim: hopper-fna has no tiles for head_dim {head_dim}; allowed: {sorted(by_head)}"
            )
        pairs = _pairs(by_head[head_dim])
        where = f"natten HOPPER_FORWARD_CONFIGS[{rank}][{dtype_bits}][{head_dim}]"
        default = pairs[0]  # natten's get_default_forward_config takes the first entry
    else:
        if backend == "blackwell-fna":
            from natten.backends.configs import cutlass_blackwell as module

            pairs = _pairs(module.BLACKWELL_FORWARD_TILE_SHAPES[rank])
            where = f"natten BLACKWELL_FORWARD_TILE_SHAPES[{rank}]"
        elif backend == "cutlass-fna":
            from natten.backends.configs import cutlass as module
            from natten.backends.configs.cutlass.fna_forward_32x128 import _FNA_FORWARD_32x128_TILE_SIZES
            from natten.backends.configs.cutlass.fna_forward_64x64 import _FNA_FORWARD_64x64_TILE_SIZES
            from natten.backends.configs.cutlass.fna_forward_64x128 import _FNA_FORWARD_64x128_TILE_SIZES

            pairs = _pairs(
                _FNA_FORWARD_32x128_TILE_SIZES[rank]
                + _FNA_FORWARD_64x64_TILE_SIZES[rank]
                + _FNA_FORWARD_64x128_TILE_SIZES[rank]
            )
            where = f"natten cutlass _FNA_FORWARD_*_TILE_SIZES[{rank}]"
        else:
            from natten.backends.configs import flex as module

            pairs = _pairs(module.FLEX_FORWARD_TILE_SHAPES[rank])
            where = f"natten FLEX_FORWARD_TILE_SHAPES[{rank}]"
        default = tuple(tuple(t) for t in module._get_default_tile_shapes_forward(rank))
    return [default] + [p for p in pairs if p != default], where


def default_tiles(backend: str, rank: int, head_dim: int = 128, dtype_bits: int = 16) -> TileShape:
    """NATTEN's default tile shape for ``backend`` at this rank / head_dim / dtype."""
    return tile_options(backend, rank, head_dim, dtype_bits)[0]


def pick_tiles(
    backend: str,
    rank: int,
    head_dim: int = 128,
    dtype_bits: int = 16,
    q_tile: Sequence[int] | None = None,
    kv_tile: Sequence[int] | None = None,
) -> TileShape:
    """The tiles to model: NATTEN's default for ``backend``, or the listed (q_tile, kv_tile) pair.

    ``backend="explicit"`` takes ``q_tile``/``kv_tile`` as given (any positive shape).
    """
    if (q_tile is None) != (kv_tile is None):
        raise ArgumentError("tiles: give both q_tile and kv_tile, or neither")
    if q_tile is not None:
        q, kv = _shape("q_tile", q_tile, rank), _shape("kv_tile", kv_tile, rank)
        if backend == "explicit":
            return TileShape(q, kv, "explicit", "given by the user")
        options = tile_options(backend, rank, head_dim, dtype_bits)
        for option in options:
            if (option.q_tile, option.kv_tile) == (q, kv):
                return option
        listing = ", ".join(f"{format_axes(o.q_tile)}/{format_axes(o.kv_tile)}" for o in options)
        raise ArgumentError(
            f"tiles: q tile {format_axes(q)} / kv tile {format_axes(kv)} is not a {backend} configuration for a "
            f"{rank}-D grid (head_dim {head_dim}); allowed q/kv: {listing}"
        )
    if backend == "explicit":
        raise ArgumentError("tiles: backend 'explicit' needs q_tile and kv_tile")
    return default_tiles(backend, rank, head_dim, dtype_bits)


def _shape(name: str, value: Sequence[int], rank: int) -> tuple[int, ...]:
    values = tuple(value)
    if len(values) != rank or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ArgumentError(f"{name}: expected {rank} positive integers (one per grid axis), got {list(values)}")
    return values


# The common names answered without torch (estimate runs torch-free); others ask torch.
_FLOAT_BITS = {"float16": 16, "half": 16, "bfloat16": 16, "float32": 32, "float": 32, "float64": 64, "double": 64}


def dtype_bits(dtype) -> int:
    """Bits of a torch dtype or dtype name ('bfloat16' -> 16)."""
    if isinstance(dtype, str) and dtype in _FLOAT_BITS:
        return _FLOAT_BITS[dtype]
    import torch

    given = dtype
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ArgumentError(f"dtype: expected float16, bfloat16 or float32, got {given!r}")
    return torch.finfo(dtype).bits
