"""Pictures and reports: heat maps, image/video writers, standard JSON, HTML report."""

import base64
import json
import math
import re
import sys
import types
from pathlib import Path

import numpy
import pytest
import torch
from PIL import Image

from na_accel.outputs.json_files import json_safe, write_json
from na_accel.outputs.report import (GRID_LABEL_HEIGHT, GRID_MAX_FRAMES, SCALE_BAR_H,
                                   SCALE_STRIP_H, LABEL_STRIP_H, grid_frame_indices, heat_map, save_side_by_side_png, side_by_side,
                                   with_colour_scale, write_html_report, write_outputs)

MP4S = {"dense": "dense.mp4", "patched": "patched.mp4", "side_by_side": "side_by_side.mp4"}


def mp4_writer_available():
    try:
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def test_heat_map_is_black_where_equal_and_white_at_the_maximum():
    dense = torch.zeros(3, 4, 5)
    patched = dense.clone()
    patched[:, 1, 2] = 0.5
    patched[:, 3, 4] = 0.25
    heat = heat_map(dense, patched)
    assert heat.shape == (3, 4, 5)
    assert torch.equal(heat[:, 0, 0], torch.zeros(3))
    assert torch.equal(heat[:, 1, 2], torch.ones(3))
    assert 0 < heat[:, 3, 4].sum() < 3  # half the maximum: red-orange, neither black nor white
    assert torch.equal(heat_map(dense, dense), torch.zeros(3, 4, 5))
    assert side_by_side(dense, patched).shape == (3, 4, 15)


def test_image_outputs_are_written_and_readable(tmp_path):
    dense, patched = torch.rand(3, 16, 24), torch.rand(3, 16, 24)
    files = write_outputs(tmp_path, dense, patched)
    assert files == {"dense": "dense.png", "patched": "patched.png", "side_by_side": "side_by_side.png"}
    with Image.open(tmp_path / "side_by_side.png") as image:
        assert image.size == (72, LABEL_STRIP_H + 16 + SCALE_STRIP_H)  # names above, the colour bar under it
    with Image.open(tmp_path / "dense.png") as image:
        pixels = torch.from_numpy(numpy.array(image)).permute(2, 0, 1).float() / 255
    assert (pixels - dense).abs().max() <= 0.5 / 255 + 1e-6


def test_video_outputs_are_frames_and_animations(tmp_path):
    frames = torch.rand(3, 3, 16, 16)
    files = write_outputs(tmp_path, frames, frames.flip(0))
    assert sorted(p.name for p in (tmp_path / "dense_frames").iterdir()) == [f"frame_000{i}.png" for i in range(3)]
    for name in ("dense.gif", "patched.gif", "side_by_side.gif"):
        with Image.open(tmp_path / name) as gif:
            assert gif.n_frames == 3
    with Image.open(tmp_path / files["side_by_side"]) as image:  # a grid of the frames: see below
        assert 1 / 3 <= image.size[0] / image.size[1] <= 3
    with Image.open(tmp_path / "side_by_side.gif") as gif:
        assert gif.size == (48, 16)  # the animation: no colour bar
    if mp4_writer_available():
        assert files["mp4"] == MP4S
        assert all((tmp_path / name).stat().st_size > 0 for name in MP4S.values())
    else:
        assert set(files["mp4"]) == {"skipped"} and "imageio-ffmpeg" in files["mp4"]["skipped"]
        assert not list(tmp_path.glob("*.mp4"))


def solid_frames(count, height, width, offset):
    """Frame i is one colour of its own (i, offset): its pixels say where it was pasted."""
    colours = torch.tensor([[(37 * i + 20) % 256, offset, (90 + 11 * i) % 256] for i in range(count)]) / 255
    return colours[:, :, None, None].expand(count, 3, height, width).clone()


@pytest.mark.parametrize("count, height, width", [(9, 48, 512), (9, 48, 64), (5, 64, 32), (1, 32, 32)])
def test_a_video_picture_is_a_labelled_grid_of_the_frames_not_a_strip(tmp_path, count, height, width):
    dense, patched = solid_frames(count, height, width, 10), solid_frames(count, height, width, 200)
    write_outputs(tmp_path, dense, patched)
    with Image.open(tmp_path / "side_by_side.png") as image:
        pixels = numpy.array(image.convert("RGB")).astype(int)
    size_x, size_y = pixels.shape[1], pixels.shape[0]
    assert 1 / 3 <= size_x / size_y <= 3, (size_x, size_y)  # tiny-wan's 48x512 frames made a 1536x48 strip
    # Read the frames back: each frame's colour fills exactly one tile of the frame's size.
    def tile(frames, i):
        colour = (frames[i, :, 0, 0] * 255).round().int().numpy()
        ys, xs = numpy.nonzero((pixels == colour).all(axis=-1))
        assert len(ys) == height * width and ys.max() - ys.min() + 1 == height and xs.max() - xs.min() + 1 == width
        return int(xs.min()), int(ys.min())

    dense_tiles = [tile(dense, i) for i in range(count)]
    patched_tiles = [tile(patched, i) for i in range(count)]
    # A grid in reading order: left to right, then top to bottom; every row full but the last.
    rows = sorted({y for _, y in dense_tiles})
    per_row = [[x for x, y in dense_tiles if y == row] for row in rows]
    columns = len(per_row[0])
    assert dense_tiles == sorted(dense_tiles, key=lambda xy: (xy[1], xy[0]))
    assert len(rows) == -(-count // columns) and all(len(r) == columns for r in per_row[:-1])
    assert all(r == per_row[0][: len(r)] for r in per_row)  # the columns line up
    if count >= 4:
        assert 1 < columns < count  # a grid: neither one row (the old strip) nor one column
    # The patched grid: the same layout, shifted as a whole (a panel of its own).
    shifts = {(px - dx, py - dy) for (dx, dy), (px, py) in zip(dense_tiles, patched_tiles)}
    assert len(shifts) == 1 and shifts != {(0, 0)}
    # Each panel's label is drawn into the image, in the strip above its grid: light text on black.
    x0, y0 = dense_tiles[0]
    strip = pixels[y0 - GRID_LABEL_HEIGHT:y0, x0:x0 + min(width * columns, 60)]
    assert (strip.min(axis=-1) > 128).any() and (strip.max(axis=-1) == 0).any()


def test_a_long_video_picture_shows_evenly_spaced_frames():
    assert grid_frame_indices(9) == list(range(9))
    indices = grid_frame_indices(81)
    assert len(indices) == GRID_MAX_FRAMES and indices[0] == 0 and indices[-1] == 80
    assert all(0 < b - a <= 6 for a, b in zip(indices, indices[1:]))


def test_mp4s_are_written_and_listed_when_a_writer_is_importable(tmp_path, monkeypatch):
    calls = []

    def mimwrite(path, frames, fps):
        frames = list(frames)
        calls.append((Path(path).name, len(frames), frames[0].shape, frames[0].dtype.name, fps))
        Path(path).write_bytes(b"mp4")

    imageio, v2 = types.ModuleType("imageio"), types.ModuleType("imageio.v2")
    v2.mimwrite, imageio.v2 = mimwrite, v2
    monkeypatch.setitem(sys.modules, "imageio", imageio)
    monkeypatch.setitem(sys.modules, "imageio.v2", v2)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", types.ModuleType("imageio_ffmpeg"))
    frames, written = torch.rand(3, 3, 16, 16), []
    files = write_outputs(tmp_path, frames, frames.flip(0), written)
    assert files["mp4"] == MP4S
    assert sorted(calls) == [("dense.mp4", 3, (16, 16, 3), "uint8", 8), ("patched.mp4", 3, (16, 16, 3), "uint8", 8),
                             ("side_by_side.mp4", 3, (16, 48, 3), "uint8", 8)]
    assert {p.name for p in written if p.suffix == ".mp4"} == set(MP4S.values())
    assert all((tmp_path / name).read_bytes() == b"mp4" for name in MP4S.values())


def test_without_an_mp4_writer_no_mp4_is_written_or_listed(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import imageio_ffmpeg -> ImportError
    frames, written = torch.rand(3, 3, 8, 8), []
    files = write_outputs(tmp_path, frames, frames.flip(0), written)
    assert list(files["mp4"]) == ["skipped"] and "imageio imageio-ffmpeg" in files["mp4"]["skipped"]
    assert not list(tmp_path.rglob("*.mp4")) and not [p for p in written if p.suffix == ".mp4"]
    assert {p.name for p in written if p.suffix == ".gif"} == {"dense.gif", "patched.gif", "side_by_side.gif"}


def test_json_stays_standard_with_infinite_psnr(tmp_path):
    path = write_json(tmp_path / "m.json", {"psnr": math.inf, "list": [1.0, -math.inf], "nan": math.nan})
    data = json.loads(path.read_text(), parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert data == {"psnr": "inf", "list": [1.0, "-inf"], "nan": "nan"}
    assert json_safe({"a": (1, 2)}) == {"a": [1, 2]}


def test_html_report_lists_every_prompt_with_embedded_pictures(tmp_path):
    entries = []
    for index, prompt in enumerate(["a <cat>", "a dog"]):
        folder = tmp_path / f"prompt_{index:03d}"
        files = write_outputs(folder, torch.rand(3, 8, 8), torch.rand(3, 8, 8))
        entries.append({"prompt": prompt, "folder": folder.name, "files": files,
                        "metrics": {"psnr": 30.0 + index, "lpips": {"skipped": "no weights"}}})
    averages = {"psnr": 30.5, "lpips": {"skipped": "no weights"}}
    path = write_html_report(tmp_path / "report.html", "t", {"model": "tiny-flux"}, entries, averages,
                             {"lpips": "no weights"})
    page = path.read_text()
    assert "a &lt;cat&gt;" in page and "a dog" in page
    assert "30.5000" in page and "average over 2 prompt(s)" in page and "lpips skipped: no weights" in page
    sources = re.findall(r'src="([^"]*)"', page)
    png = base64.b64encode((tmp_path / "prompt_001" / "side_by_side.png").read_bytes()).decode()
    assert len(sources) == 2 and sources[1] == f"data:image/png;base64,{png}"
    assert "prompt_000/" not in page and str(tmp_path) not in page


def test_html_report_embeds_a_video_as_its_frame_grid_and_its_animation(tmp_path):
    frames = torch.rand(3, 3, 8, 8)
    files = write_outputs(tmp_path / "prompt_000", frames, frames.flip(0))
    entry = {"prompt": "p", "folder": "prompt_000", "files": files, "metrics": {"psnr": 20.0}}
    page = write_html_report(tmp_path / "report.html", "t", {}, [entry], {"psnr": 20.0}, {}).read_text()
    png = base64.b64encode((tmp_path / "prompt_000" / "side_by_side.png").read_bytes()).decode()
    gif = base64.b64encode((tmp_path / "prompt_000" / "side_by_side.gif").read_bytes()).decode()
    assert re.findall(r'src="([^"]*)"', page) == [f"data:image/png;base64,{png}", f"data:image/gif;base64,{gif}"]


def test_a_side_by_side_still_has_a_colour_bar_from_the_maps_extremes(tmp_path):
    """Issue #37: the heat map's scale is in the picture: a bar under the heat map from its darkest
    (equal, black) to its brightest (the largest difference, white), the image taller by it."""
    dense = torch.zeros(3, 40, 120)
    patched = dense.clone()
    patched[:, 5:9, 10:30] = 0.25
    patched[:, 20, 60] = 0.5  # the largest difference: white in the map
    write_outputs(tmp_path, dense, patched)
    with Image.open(tmp_path / "side_by_side.png") as image:
        pixels = numpy.asarray(image.convert("RGB"))
    assert pixels.shape == (LABEL_STRIP_H + 40 + SCALE_STRIP_H, 3 * 120, 3)
    pixels = pixels[LABEL_STRIP_H:]  # under the panels' names
    heat = pixels[:40, 240:]
    assert numpy.array_equal(heat[20, 60], [255, 255, 255]) and numpy.array_equal(heat[0, 0], [0, 0, 0])
    bar = pixels[40 + 2:40 + 2 + SCALE_BAR_H, 240:]
    assert (bar == bar[:1]).all()  # one colour per column
    darkest, brightest = heat.reshape(-1, 3).sum(1).argmin(), heat.reshape(-1, 3).sum(1).argmax()
    assert numpy.array_equal(bar[0, 0], heat.reshape(-1, 3)[darkest])
    assert numpy.array_equal(bar[0, -1], heat.reshape(-1, 3)[brightest])
    assert (bar[0].astype(int).sum(1)[1:] >= bar[0].astype(int).sum(1)[:-1]).all()  # dark to bright
    labels = pixels[40 + 2 + SCALE_BAR_H:, 240:]
    assert (labels < 128).any(), "the values at the bar's ends are written under it"
    assert (pixels[40:, :240] < 128).any(), "the quantity is named under the pictures"


def test_the_colour_bar_states_the_scale():
    picture = torch.zeros(3, 8, 300)
    a, b = with_colour_scale(picture, 0.125, 200), with_colour_scale(picture, 0.5, 200)
    assert a.shape == b.shape == (8 + SCALE_STRIP_H, 300, 3)
    assert not numpy.array_equal(a[8 + 2 + SCALE_BAR_H:], b[8 + 2 + SCALE_BAR_H:])  # other values, other labels


def test_a_side_by_side_still_names_its_panels_inside_the_picture(tmp_path):
    """Issue #37: each panel's name is written above it, in the image (white text on black)."""
    dense = torch.zeros(3, 32, 64)
    path = save_side_by_side_png(tmp_path / "a.png", dense, dense, labels=("dense", "GNA", "|difference|"))
    other = save_side_by_side_png(tmp_path / "b.png", dense, dense, labels=("dense", "GNA flux_gna", "|difference|"))
    with Image.open(path) as a, Image.open(other) as b:
        a, b = numpy.asarray(a.convert("RGB")), numpy.asarray(b.convert("RGB"))
    strip = a[:LABEL_STRIP_H]
    for panel in range(3):
        assert (strip[:, panel * 64:(panel + 1) * 64] > 200).any(), f"panel {panel} has no name"
    assert numpy.array_equal(a[:LABEL_STRIP_H, :64], b[:LABEL_STRIP_H, :64])  # the same first name
    assert not numpy.array_equal(a[:LABEL_STRIP_H, 64:128], b[:LABEL_STRIP_H, 64:128])  # another second one
    assert (a[LABEL_STRIP_H:LABEL_STRIP_H + 32] == 0).all()  # the pictures themselves, black, start under it
