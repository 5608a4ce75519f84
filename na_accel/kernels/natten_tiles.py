"""The tile models of NATTEN's backends, read from NATTEN's own config tables (no GPU needed).

Which tiles a NATTEN backend uses depends on the grid rank (1-3), and for ``hopper-fna`` on
head_dim and dtype. The tables live in ``natten/backends/configs/<backend>/__init__.py``:

* ``hopper-fna``: ``HOPPER_FORWARD_CONFIGS[rank][dtype bits][head_dim]`` (fp16/bf16 only;
  head_dim 32, 64, 128, 256); NATTEN's default is the first entry.
* ``blackwell-fna``: ``BLACKWELL_FORWARD_TILE_SHAPES[rank]``; default
  ``_get_default_tile_shapes_forward(rank)``.
* ``cutlass-fna``: the 32x128, 64x64 and 64x128 GEMM tables (the last only on SM80/90/100/103);
  default ``_get_default_tile_shapes_forward(rank)``.
* ``flex-fna``: ``FLEX_FORWARD_TILE_SHAPES[rank]``; default ``_get_default_tile_shapes_forward(rank)``.

NATTEN's config modules import torch; for the NATTEN release na_accel pins, ``natten_tile_snapshot``
holds the same tables, which are read first (so ``estimate`` starts without torch).
"""

from __future__ import annotations

from ..errors import ArgumentError
from .tile_model import TileModel

HOPPER_HEAD_DIMS_NOTE = "hopper-fna tiles exist for fp16/bf16 only"


def _pairs(entries) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    out = []
    for entry in entries:
        pair = entry[0] if isinstance(entry[0][0], tuple) else entry  # hopper: ((q, kv), schedule)
        pair = (tuple(pair[0]), tuple(pair[1]))
        if pair not in out:
            out.append(pair)
    return out


class NattenTiles(TileModel):
    """A NATTEN backend's forward tile table: one per rank (head_dim 128 and 16 bits stand for all)."""

    def table(self, rank: int, head_dim: int, dtype_bits: int) -> tuple[list, str]:
        from .natten_tile_snapshot import stored_table

        return stored_table(self.snapshot_key(rank, head_dim, dtype_bits)) or self.natten_table(rank, head_dim,
                                                                                              dtype_bits)

    def snapshot_key(self, rank: int, head_dim: int, dtype_bits: int) -> str:
        return f"{self.name}/{rank}"

    def table_keys(self, rank: int) -> list[tuple[int, int]]:
        """The (head_dim, dtype bits) of every table NATTEN lists at ``rank`` (imports NATTEN)."""
        return [(128, 16)]

    def natten_table(self, rank: int, head_dim: int, dtype_bits: int) -> tuple[list, str]:
        """``table`` read from NATTEN's config modules (which import torch)."""
        pairs, module, where = self._read(rank)
        default = tuple(tuple(t) for t in module._get_default_tile_shapes_forward(rank))
        return [default] + [p for p in pairs if p != default], where

    def _read(self, rank: int):
        """(pairs, the config module whose default applies, where they are listed)."""
        raise NotImplementedError


class BlackwellTiles(NattenTiles):
    def _read(self, rank):
        from natten.backends.configs import cutlass_blackwell as module

        return (_pairs(module.BLACKWELL_FORWARD_TILE_SHAPES[rank]), module,
                f"natten BLACKWELL_FORWARD_TILE_SHAPES[{rank}]")


class CutlassTiles(NattenTiles):
    def _read(self, rank):
        from natten.backends.configs import cutlass as module
        from natten.backends.configs.cutlass.fna_forward_32x128 import _FNA_FORWARD_32x128_TILE_SIZES
        from natten.backends.configs.cutlass.fna_forward_64x64 import _FNA_FORWARD_64x64_TILE_SIZES
        from natten.backends.configs.cutlass.fna_forward_64x128 import _FNA_FORWARD_64x128_TILE_SIZES

        pairs = _pairs(_FNA_FORWARD_32x128_TILE_SIZES[rank] + _FNA_FORWARD_64x64_TILE_SIZES[rank]
                       + _FNA_FORWARD_64x128_TILE_SIZES[rank])
        return pairs, module, f"natten cutlass _FNA_FORWARD_*_TILE_SIZES[{rank}]"


class FlexTiles(NattenTiles):
    def _read(self, rank):
        from natten.backends.configs import flex as module

        return _pairs(module.FLEX_FORWARD_TILE_SHAPES[rank]), module, f"natten FLEX_FORWARD_TILE_SHAPES[{rank}]"


class HopperTiles(NattenTiles):
    """One table per rank, dtype width and head_dim; the kernel runs fp16 / bf16 only."""

    runs_only_dtype_bits = 16

    def snapshot_key(self, rank, head_dim, dtype_bits):
        return f"{self.name}/{rank}/{dtype_bits}/{head_dim}"

    def table_keys(self, rank):
        from natten.backends.configs.cutlass_hopper import HOPPER_FORWARD_CONFIGS

        return [(h, b) for b, by_head in HOPPER_FORWARD_CONFIGS[rank].items() for h in by_head]

    def natten_table(self, rank, head_dim, dtype_bits):
        from natten.backends.configs.cutlass_hopper import HOPPER_FORWARD_CONFIGS

        by_bits = HOPPER_FORWARD_CONFIGS[rank]
        if dtype_bits not in by_bits:
            raise ArgumentError(
                f"dtype: {self.name} has no {dtype_bits}-bit configurations ({HOPPER_HEAD_DIMS_NOTE})"
            )
        by_head = by_bits[dtype_bits]
        if head_dim not in by_head:
            raise ArgumentError(
                f"head_dim: {self.name} has no tiles for head_dim {head_dim}; allowed: {sorted(by_head)}"
            )
        # natten's get_default_forward_config takes the first entry
        return _pairs(by_head[head_dim]), f"natten HOPPER_FORWARD_CONFIGS[{rank}][{dtype_bits}][{head_dim}]"


# In the order the snapshot stores them.
HOPPER_TILES = HopperTiles("hopper-fna")
BLACKWELL_TILES = BlackwellTiles("blackwell-fna")
CUTLASS_TILES = CutlassTiles("cutlass-fna")
FLEX_TILES = FlexTiles("flex-fna")
NATTEN_TILE_MODELS = (HOPPER_TILES, BLACKWELL_TILES, CUTLASS_TILES, FLEX_TILES)
