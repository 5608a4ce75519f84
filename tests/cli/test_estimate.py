"""na_accel.cli.estimate: tile options, the attention share read from a bench JSON, the backend names."""

import json

import pytest

from na_accel.cli import main
from na_accel.cli.estimate import attention_share_from_bench, parse_tile
from na_accel.errors import ArgumentError
from na_accel.kernels.tiles import DEFAULT_TILE_BACKEND, TILE_BACKENDS


@pytest.mark.parametrize("text,tile", [(None, None), ("16x8", (16, 8)), ("16,8", (16, 8)), ("4X4x8", (4, 4, 8)),
                                       ("64", (64,))])
def test_a_tile_option_is_a_shape(text, tile):
    assert parse_tile("--q-tile", text) == tile


@pytest.mark.parametrize("text,message", [
    ("16xa", "--kv-tile: '16xa' is not a tile shape like 16x8 or 4x4x8"),
    ("16x", "--kv-tile: '16x' is not a tile shape like 16x8 or 4x4x8"),
    ("0x8", "--kv-tile: '0x8' has a non-positive size"),
    ("-1x8", "--kv-tile: '-1x8' has a non-positive size"),
])
def test_a_bad_tile_option_names_the_option_and_the_value(text, message):
    with pytest.raises(ArgumentError) as info:
        parse_tile("--kv-tile", text)
    assert str(info.value) == message


def bench_json(tmp_path, *, family="flux", grid=(4, 6), device_type="cuda", share=0.42):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({
        "runs": {"dense": {"attention_share": share}}, "model": {"family": family}, "token_grid": list(grid),
        "device": {"type": device_type, "name": "NVIDIA H100" if device_type == "cuda" else "some CPU"},
    }))
    return path


def test_the_measured_share_and_where_it_was_measured(tmp_path):
    share, source = attention_share_from_bench(bench_json(tmp_path), "flux", [4, 6])
    assert share == 0.42
    assert source == "measured by na-accel bench on NVIDIA H100 (cuda), dense run"


def test_a_cpu_measurement_says_it_is_not_a_gpu_one(tmp_path):
    _, source = attention_share_from_bench(bench_json(tmp_path, device_type="cpu"), "flux", (4, 6))
    assert source.endswith("; NOT a GPU measurement, so not representative of GPU runs")


@pytest.mark.parametrize("kwargs,family,grid,message", [
    ({"family": "wan"}, "flux", (4, 6), "measured model family 'wan', not 'flux'"),
    ({"grid": (8, 8)}, "flux", (4, 6), "measured token grid 8x8, but this estimate is for 4x6"),
])
def test_a_bench_of_another_family_or_grid_is_refused(kwargs, family, grid, message, tmp_path):
    with pytest.raises(ArgumentError, match="--bench-json: .*" + message):
        attention_share_from_bench(bench_json(tmp_path, **kwargs), family, grid)


@pytest.mark.parametrize("content,message", [
    ("not json", "--bench-json: cannot read {path} as JSON ("),
    ('{"runs": {}}', "--bench-json: {path} is not a na-accel bench JSON (no runs.dense.attention_share, "),
    ('{"runs": {"dense": {"attention_share": "much"}}, "model": {"family": "flux"}, "token_grid": [1], '
     '"device": {}}', "--bench-json: {path} is not a na-accel bench JSON ("),
])
def test_a_file_that_is_no_bench_json_is_refused(content, message, tmp_path):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(ArgumentError) as info:
        attention_share_from_bench(path, "flux", (1,))
    assert str(info.value).startswith(message.format(path=repr(str(path))))


def test_the_backend_option_lists_and_checks_the_tile_tables_backends(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit):
        main(["estimate", "--help"])
    assert f"whose tiles: {', '.join(TILE_BACKENDS)} (default: {DEFAULT_TILE_BACKEND})" in capsys.readouterr().out
    assert main(["estimate", "--recipe", "flux_gna", "--backend", "reference"]) == 2
    assert capsys.readouterr().err == (
        f"na-accel: error: backend: 'reference' has no tile tables; allowed: {list(TILE_BACKENDS)}\n")


def test_the_json_file_holds_what_was_printed(tmp_path, capsys):
    path = tmp_path / "deep" / "estimate.json"
    assert main(["estimate", "--recipe", "flux_gna", "--height", "1024", "--width", "1024", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    data = json.loads(path.read_text())
    assert f"token grid {'x'.join(map(str, data['token_grid']))}" in out and data["recipe"] == "flux_gna"
    assert out.endswith(f"\nWrote {path}\n")
