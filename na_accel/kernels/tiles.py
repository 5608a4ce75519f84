"""Tile shapes by backend name: the tile model of the backend called so, its options, its default.

A backend owns its tile model (``Backend.tiles``, a ``tile_model.TileModel``: NATTEN's backends read
NATTEN's own config tables, ``natten_tiles``; na_accel's Triton kernel its ``TILE_TABLE``,
``triton_tiles``); the backends that have one are the *tile backends*, which recipe snapping
(``snap: <name>``) and ``estimate --backend <name>`` accept. When several tile shapes exist, the
backend's default is used unless the caller picks another (``q_tile``/``kv_tile``). No torch here:
``estimate`` runs without it.
"""

from __future__ import annotations

from typing import Sequence

from ..errors import ArgumentError
from ..windows import format_axes
from . import registry
from .tile_model import TileModel, TileShape


def tile_models() -> dict[str, TileModel]:
    """Every registered backend's tile model by its name, in registration order."""
    return {b.tiles.name: b.tiles for b in registry.BACKENDS.values() if b.tiles is not None}


TILE_BACKENDS = tuple(tile_models())  # the tile backends na_accel ships
# The backend the published GNA figures were measured on (H100), and the estimator's default.
DEFAULT_TILE_BACKEND = "hopper-fna"


def check_tile_backend(backend) -> None:
    """An ArgumentError unless ``backend`` names a tile model."""
    tile_model(backend)


def tile_model(backend: str) -> TileModel:
    """The tile model called ``backend``; an ArgumentError naming the tile backends if none is."""
    models = tile_models()  # later registrations too
    if backend not in tuple(models):
        raise ArgumentError(f"backend: {backend!r} has no tile tables; allowed: {list(models)}")
    return models[backend]


def tile_options(backend: str, rank: int, head_dim: int = 128, dtype_bits: int = 16) -> list[TileShape]:
    """Every forward tile configuration of ``backend``'s kernel; its default first."""
    return tile_model(backend).options(rank, head_dim, dtype_bits)


def default_tiles(backend: str, rank: int, head_dim: int = 128, dtype_bits: int = 16) -> TileShape:
    """The default tile shape of ``backend``'s kernel at this rank / head_dim / dtype (NATTEN's, for its backends)."""
    return tile_options(backend, rank, head_dim, dtype_bits)[0]


def pick_tiles(
    backend: str,
    rank: int,
    head_dim: int = 128,
    dtype_bits: int = 16,
    q_tile: Sequence[int] | None = None,
    kv_tile: Sequence[int] | None = None,
) -> TileShape:
    """The tiles to model: ``backend``'s default, or the listed (q_tile, kv_tile) pair.

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
