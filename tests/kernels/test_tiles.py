"""Tests for na_accel.kernels.tiles: tile shapes read from NATTEN's tables, and errors that name the value."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

from na_accel.errors import ArgumentError
from na_accel.kernels.natten_tiles import NATTEN_TILE_MODELS
from na_accel.kernels.tiles import TILE_BACKENDS, default_tiles, dtype_bits, pick_tiles, tile_options


def natten_pairs(backend, rank):
    """Every forward (q tile, kv tile) pair in NATTEN's own table for ``backend`` (head_dim 128, 16 bits)."""
    if backend == "hopper-fna":
        from natten.backends.configs.cutlass_hopper import HOPPER_FORWARD_CONFIGS

        return {tuple(map(tuple, entry[0])) for entry in HOPPER_FORWARD_CONFIGS[rank][16][128]}
    if backend == "flex-fna":
        from natten.backends.configs.flex import FLEX_FORWARD_TILE_SHAPES as table
    elif backend == "blackwell-fna":
        from natten.backends.configs.cutlass_blackwell import BLACKWELL_FORWARD_TILE_SHAPES as table
    elif backend == "triton":
        from na_accel.kernels.triton_tiles import TILE_TABLE as table
    else:
        pytest.fail(f"no independent table reader for {backend}")
    return {tuple(map(tuple, pair)) for pair in table[rank]}


@pytest.mark.parametrize("backend", ["hopper-fna", "flex-fna", "blackwell-fna", "triton"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_options_are_exactly_the_table_entries(backend, rank):
    options = tile_options(backend, rank)
    assert {(o.q_tile, o.kv_tile) for o in options} == natten_pairs(backend, rank)
    assert all(o.backend == backend and o.rank == rank for o in options)


def test_defaults_are_natten_defaults():
    from natten.backends.configs.cutlass_hopper import HOPPER_FORWARD_CONFIGS
    from natten.backends.configs.flex import _get_default_tile_shapes_forward

    hopper_first = HOPPER_FORWARD_CONFIGS[2][16][64][0][0]
    assert (default_tiles("hopper-fna", 2, head_dim=64).q_tile, default_tiles("hopper-fna", 2, head_dim=64).kv_tile) \
        == tuple(map(tuple, hopper_first))
    flex = default_tiles("flex-fna", 3)
    assert (flex.q_tile, flex.kv_tile) == tuple(map(tuple, _get_default_tile_shapes_forward(3)))
    assert pick_tiles("flex-fna", 3) == flex


def test_an_unknown_backend_names_itself_and_the_choices():
    with pytest.raises(ArgumentError, match=r"backend: 'tpu-fna' has no tile tables") as info:
        tile_options("tpu-fna", 2)
    assert all(repr(name) in str(info.value) for name in TILE_BACKENDS)


@pytest.mark.parametrize("rank", [0, 4])
def test_a_rank_natten_does_not_run_names_the_rank(rank):
    with pytest.raises(ArgumentError, match=rf"rank: .* got a {rank}-D grid"):
        default_tiles("flex-fna", rank)


def test_hopper_errors_name_the_head_dim_or_dtype_and_the_allowed_ones():
    from natten.backends.configs.cutlass_hopper import HOPPER_FORWARD_CONFIGS

    allowed = sorted(HOPPER_FORWARD_CONFIGS[2][16])
    with pytest.raises(ArgumentError, match=rf"head_dim: .*head_dim 48; allowed: {re.escape(str(allowed))}"):
        tile_options("hopper-fna", 2, head_dim=48)
    with pytest.raises(ArgumentError, match=r"dtype: hopper-fna has no 32-bit configurations"):
        tile_options("hopper-fna", 2, dtype_bits=32)


def test_pick_returns_the_listed_option_with_its_source():
    wanted = tile_options("flex-fna", 2)[-1]
    picked = pick_tiles("flex-fna", 2, q_tile=list(wanted.q_tile), kv_tile=list(wanted.kv_tile))
    assert picked == wanted and "FLEX_FORWARD_TILE_SHAPES" in picked.source


def test_an_unlisted_pick_names_the_pick_and_lists_every_option():
    with pytest.raises(ArgumentError, match=r"q tile 3x5 / kv tile 8x8 is not a flex-fna configuration") as info:
        pick_tiles("flex-fna", 2, q_tile=(3, 5), kv_tile=(8, 8))
    for option in tile_options("flex-fna", 2):
        assert f"{option.q_tile[0]}x{option.q_tile[1]}/{option.kv_tile[0]}x{option.kv_tile[1]}" in str(info.value)


@pytest.mark.parametrize("q_tile, shown", [((8,), r"\[8\]"), ((8, 0), r"\[8, 0\]"), ((8, True), r"\[8, True\]"),
                                           ((8, 2.0), r"\[8, 2\.0\]")])
def test_a_malformed_tile_names_the_value(q_tile, shown):
    with pytest.raises(ArgumentError, match=rf"q_tile: expected 2 positive integers .*got {shown}"):
        pick_tiles("flex-fna", 2, q_tile=q_tile, kv_tile=(8, 8))


def test_tiles_come_in_pairs():
    with pytest.raises(ArgumentError, match="give both q_tile and kv_tile"):
        pick_tiles("flex-fna", 2, kv_tile=(8, 8))
    with pytest.raises(ArgumentError, match="'explicit' needs q_tile and kv_tile"):
        pick_tiles("explicit", 2)


def test_explicit_tiles_are_taken_as_given():
    tiles = pick_tiles("explicit", 3, q_tile=(1, 3, 7), kv_tile=(2, 2, 9))
    assert (tiles.q_tile, tiles.kv_tile, tiles.backend) == ((1, 3, 7), (2, 2, 9), "explicit")
    assert tiles.describe() == "explicit q tile 1x3x7 kv tile 2x2x9"
    assert tiles.to_dict() == {"backend": "explicit", "q_tile": [1, 3, 7], "kv_tile": [2, 2, 9],
                               "source": "given by the user"}


@pytest.mark.parametrize("dtype, bits", [(torch.bfloat16, 16), ("float16", 16), (torch.float32, 32), ("float32", 32)])
def test_dtype_bits(dtype, bits):
    assert dtype_bits(dtype) == bits


@pytest.mark.parametrize("name", ["fp8", "int8_is_not_float", "Tensor"])
def test_an_unknown_dtype_name_is_an_argument_error(name):
    with pytest.raises(ArgumentError, match="dtype: expected float16, bfloat16 or float32"):
        dtype_bits(name)


@pytest.mark.parametrize("dtype", ["int8", torch.int8, "bool"], ids=["'int8'", "torch.int8", "'bool'"])
def test_a_dtype_that_is_not_floating_point_is_an_argument_error(dtype):
    # estimate_recipe(dtype=...) passes its argument here: a raw TypeError would escape the public API
    with pytest.raises(ArgumentError, match="dtype: expected float16, bfloat16 or float32"):
        dtype_bits(dtype)


# --------------------------------------------------------------------------------------------
# The snapshot of NATTEN's tables (estimate starts without torch) equals NATTEN's own
# --------------------------------------------------------------------------------------------


def _snapshot_tool():
    """scripts/snapshot_natten_tiles.py, the tool that writes the snapshot (not part of the package)."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "snapshot_natten_tiles.py"
    spec = importlib.util.spec_from_file_location("snapshot_natten_tiles", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_natten_tile_snapshot_equals_the_installed_natten_tables():
    from na_accel.kernels import natten_tile_snapshot as snapshot

    stored = json.loads(snapshot.SNAPSHOT.read_text())
    assert stored["natten"] == snapshot.installed_natten(), (
        "natten was upgraded: rewrite the snapshot with python scripts/snapshot_natten_tiles.py")
    assert stored["tables"] == _snapshot_tool().live_tables(), (
        "the snapshot is stale: rewrite it with python scripts/snapshot_natten_tiles.py")


def test_the_snapshot_tool_writes_the_shipped_file_byte_for_byte(tmp_path):
    from na_accel.kernels import natten_tile_snapshot as snapshot

    if json.loads(snapshot.SNAPSHOT.read_text())["natten"] != snapshot.installed_natten():
        pytest.skip("another NATTEN release: the test above says so")
    assert _snapshot_tool().main(["--output", str(tmp_path / "tiles.json")]) == 0
    assert (tmp_path / "tiles.json").read_text() == snapshot.SNAPSHOT.read_text()


def test_tile_options_come_from_natten_itself_for_another_natten_release(monkeypatch):
    from na_accel.kernels import natten_tile_snapshot as snapshot

    backends = [model.name for model in NATTEN_TILE_MODELS]
    from_snapshot = {b: tile_options(b, 3, 128, 16) for b in backends}
    monkeypatch.setattr(snapshot, "installed_natten", lambda: "0.0.0")
    snapshot._snapshot.cache_clear()
    try:
        assert snapshot.stored_table(NATTEN_TILE_MODELS[0].snapshot_key(3, 128, 16)) is None
        assert {b: tile_options(b, 3, 128, 16) for b in backends} == from_snapshot
    finally:
        snapshot._snapshot.cache_clear()
