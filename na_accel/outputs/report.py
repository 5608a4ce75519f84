"""Pictures and reports: PNG/GIF/MP4 writers, dense | patched | difference heat map, HTML report."""

from __future__ import annotations

import base64
import html
import math
import mimetypes
from pathlib import Path
from typing import Any

import torch


def to_uint8(image: torch.Tensor):
    """[3, H, W] in [0, 1] -> HxWx3 uint8 numpy array."""
    return (image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def save_png(path: Path, image: torch.Tensor) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image)).save(path)
    return path


SCALE_NAME = "|patched - dense|, mean over RGB"  # the heat map's quantity, named on its colour bar
SCALE_STRIP_H = 26  # px added under a side-by-side still for the colour bar and its labels
LABEL_STRIP_H = 14  # px added above a side-by-side still for its panels' names
STILL_LABELS = ("dense", "patched", "|difference|")
SCALE_BAR_H = 10


def heat_colours(t: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] -> black -> red -> yellow -> white, [3, *t.shape]."""
    t = t.clamp(0, 1)
    return torch.stack([(3 * t).clamp(0, 1), (3 * t - 1).clamp(0, 1), (3 * t - 2).clamp(0, 1)])


def difference_scale(dense: torch.Tensor, patched: torch.Tensor) -> float:
    """The heat map's default scale: the largest |difference| averaged over channels."""
    return float((patched.float() - dense.float()).abs().mean(-3).max())


def heat_map(dense: torch.Tensor, patched: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """|difference| averaged over channels, scaled to ``scale`` (default: its maximum), as a
    black -> red -> yellow -> white heat map [3, H, W]."""
    difference = (patched.float() - dense.float()).abs().mean(0)
    scale = float(difference.max()) if scale is None else scale
    return heat_colours(difference / max(scale, 1e-12))


def with_colour_scale(picture: torch.Tensor, scale: float, panel_x: int):
    """``picture`` ([3, H, W] in [0, 1], its heat map from column ``panel_x`` on) as an HxWx3 uint8 array
    ``SCALE_STRIP_H`` px taller: under the heat map a colour bar from 0 (black) to ``scale`` (white),
    those values at its ends, and the quantity's name (``SCALE_NAME``) under the pictures to its left."""
    from PIL import Image, ImageDraw, ImageFont

    _, height, width = picture.shape
    strip = torch.ones(3, SCALE_STRIP_H, width)
    panel_w = width - panel_x
    ramp = heat_colours(torch.linspace(0, 1, max(panel_w, 1)))[:, :panel_w]
    strip[:, 2:2 + SCALE_BAR_H, panel_x:] = ramp[:, None, :]
    image = Image.fromarray(to_uint8(torch.cat([picture.float().clamp(0, 1), strip], dim=1)))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default()
    text_y = height + 2 + SCALE_BAR_H + 1
    draw.text((panel_x, text_y), "0", fill=(0, 0, 0), font=font)
    draw.text((width - 1, text_y), f"{scale:.3g}", fill=(0, 0, 0), font=font, anchor="ra")
    draw.text((2, height + 2), f"heat map: {SCALE_NAME}, 0 .. {scale:.3g}", fill=(0, 0, 0), font=font)
    import numpy

    return numpy.asarray(image)


def with_panel_labels(pixels, labels: tuple[str, ...], panel_width: int):
    """An HxWx3 uint8 array ``LABEL_STRIP_H`` px taller: each panel's name (white on black) above it,
    clipped to the panel."""
    from PIL import Image, ImageDraw

    height, width, _ = pixels.shape
    image = Image.new("RGB", (width, height + LABEL_STRIP_H), (0, 0, 0))
    image.paste(Image.fromarray(pixels), (0, LABEL_STRIP_H))
    for index, label in enumerate(labels):
        strip = Image.new("RGB", (panel_width, LABEL_STRIP_H), (0, 0, 0))
        ImageDraw.Draw(strip).text((2, 1), label, fill=(255, 255, 255))
        image.paste(strip, (index * panel_width, 0))
    import numpy

    return numpy.asarray(image)


def save_side_by_side_png(path: Path, dense: torch.Tensor, patched: torch.Tensor,
                          scale: float | None = None, labels: tuple[str, ...] = STILL_LABELS) -> Path:
    """PNG of dense | patched | |difference| heat map, each panel's name (``labels``) above it and the
    heat map's colour bar under it."""
    from PIL import Image

    scale = difference_scale(dense, patched) if scale is None else scale
    picture = side_by_side(dense, patched, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = with_colour_scale(picture, scale, 2 * dense.shape[-1])
    Image.fromarray(with_panel_labels(pixels, labels, dense.shape[-1])).save(path)
    return path


def side_by_side(dense: torch.Tensor, patched: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """dense | patched | heat map of |difference|, one [3, H, 3W] image."""
    return torch.cat([dense.float().clamp(0, 1), patched.float().clamp(0, 1), heat_map(dense, patched, scale)], dim=2)


# The video picture (side_by_side.png of a video): each panel (dense, patched, heat map) shows the
# frames as a grid, left to right then top to bottom, under a label strip drawn into the image.
GRID_MAX_FRAMES = 16
GRID_GAP = 2
GRID_LABEL_HEIGHT = 14
GRID_BACKGROUND = (96, 96, 96)


def grid_frame_indices(count: int, limit: int = GRID_MAX_FRAMES) -> list[int]:
    """Which frames a grid shows: all up to ``limit``, else ``limit`` evenly spaced (first and last included)."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


def grid_layout(count: int, height: int, width: int) -> dict[str, Any]:
    """Columns of the frame grid and where the panels go (side by side or stacked), chosen so that the
    whole picture is as close to square as possible. Returns ``columns``, ``rows``, ``stacked``,
    ``panel_size`` (w, h, label strip included), ``size`` (w, h) and ``origins``: the top-left pixel
    (x, y) of each panel's first frame; frame i of a panel is at origin + (col * (width + gap),
    row * (height + gap)) with row, col = divmod(i, columns)."""
    best = None
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        panel_w = columns * width + (columns - 1) * GRID_GAP
        panel_h = GRID_LABEL_HEIGHT + rows * height + (rows - 1) * GRID_GAP
        for stacked in (False, True):
            size = ((panel_w, 3 * panel_h + 2 * GRID_GAP) if stacked
                    else (3 * panel_w + 2 * GRID_GAP, panel_h))
            badness = abs(math.log(size[0] / size[1]))
            if best is None or badness < best[0] - 1e-9:
                best = (badness, columns, rows, stacked, (panel_w, panel_h), size)
    _, columns, rows, stacked, (panel_w, panel_h), size = best
    origins = [((0, k * (panel_h + GRID_GAP)) if stacked else (k * (panel_w + GRID_GAP), 0)) for k in range(3)]
    origins = [(x, y + GRID_LABEL_HEIGHT) for x, y in origins]
    return {"columns": columns, "rows": rows, "stacked": stacked, "panel_size": (panel_w, panel_h),
            "size": size, "origins": origins}


def _frames_label(indices: list[int], count: int) -> str:
    if len(indices) == count:
        return f"frames 0-{count - 1}" if count > 1 else "frame 0"
    return f"frames {', '.join(map(str, indices))} ({len(indices)} of {count})"


def video_side_by_side(dense: torch.Tensor, patched: torch.Tensor, scale: float | None = None):
    """[F, 3, H, W] dense and patched -> (PIL image, layout): dense | patched | heat map of |difference|
    (scaled to ``scale``, default the video's maximum), each a grid of the frames (at most
    ``GRID_MAX_FRAMES``, evenly spaced) with its label drawn above it; ``grid_layout`` places them."""
    from PIL import Image, ImageDraw

    count, _, height, width = dense.shape
    indices = grid_frame_indices(count)
    if scale is None:
        scale = float((patched.float() - dense.float()).abs().mean(1).max())
    layout = grid_layout(len(indices), height, width)
    layout["frames"] = indices
    picture = Image.new("RGB", layout["size"], GRID_BACKGROUND)  # the gaps: grey, unlike a black heat map
    panels = (("dense", lambda i: dense[i]), ("patched", lambda i: patched[i]),
              ("|difference| (white: the video's largest)", lambda i: heat_map(dense[i], patched[i], scale)))
    for (name, frame), (x0, y0) in zip(panels, layout["origins"]):
        label = Image.new("RGB", (layout["panel_size"][0], GRID_LABEL_HEIGHT), (0, 0, 0))  # clipped to the panel
        ImageDraw.Draw(label).text((2, 1), f"{name}, {_frames_label(indices, count)}", fill=(255, 255, 255))
        picture.paste(label, (x0, y0 - GRID_LABEL_HEIGHT))
        for position, index in enumerate(indices):
            row, col = divmod(position, layout["columns"])
            tile = Image.fromarray(to_uint8(frame(index).float().clamp(0, 1)))
            picture.paste(tile, (x0 + col * (width + GRID_GAP), y0 + row * (height + GRID_GAP)))
    return picture, layout


def save_gif(path: Path, frames: torch.Tensor, fps: int = 8) -> Path:
    """[F, 3, H, W] in [0, 1] -> an animated GIF (Pillow, always available)."""
    from PIL import Image

    images = [Image.fromarray(to_uint8(frame)) for frame in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, 1000 // fps), loop=0)
    return path


def save_mp4(path: Path, frames: torch.Tensor, fps: int = 8) -> Path | None:
    """An mp4 when imageio + imageio-ffmpeg are importable; else None (the GIF is written anyway)."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimwrite(path, [to_uint8(frame) for frame in frames], fps=fps)
    return path


def write_outputs(out_dir: Path, dense: torch.Tensor, patched: torch.Tensor,
                  written: list[Path] | None = None, labels: tuple[str, ...] = STILL_LABELS) -> dict[str, Any]:
    """Writes the pictures of one comparison; returns their paths relative to ``out_dir`` (and appends
    every file written to ``written`` when given). ``labels``: the still's panel names.

    Images ([3, H, W]): dense.png, patched.png, side_by_side.png (with the heat map's colour bar under it,
    ``with_colour_scale``). Videos ([F, 3, H, W]):
    dense_frames/ and patched_frames/ (PNG per frame), dense.gif, patched.gif, side_by_side.gif
    (heat map scaled to the whole video's maximum), side_by_side.png (each panel a labelled grid of
    the frames: ``video_side_by_side``), and .mp4 versions when an mp4 writer is available.
    """
    written = [] if written is None else written

    def keep(path: Path | None) -> Path | None:
        if path is not None:
            written.append(path)
        return path

    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    if dense.ndim == 3:
        files["dense"] = keep(save_png(out_dir / "dense.png", dense)).name
        files["patched"] = keep(save_png(out_dir / "patched.png", patched)).name
        files["side_by_side"] = keep(save_side_by_side_png(out_dir / "side_by_side.png", dense, patched,
                                                                   labels=labels)).name
        return files
    scale = difference_scale(dense, patched)
    pairs = torch.stack([side_by_side(d, p, scale) for d, p in zip(dense, patched)])
    for name, video in (("dense", dense), ("patched", patched)):
        folder = out_dir / f"{name}_frames"
        for index, frame in enumerate(video):
            keep(save_png(folder / f"frame_{index:04d}.png", frame))
        files[f"{name}_frames"] = folder.name
        files[name] = keep(save_gif(out_dir / f"{name}.gif", video)).name
    picture, _ = video_side_by_side(dense, patched, scale)
    picture.save(out_dir / "side_by_side.png")
    files["side_by_side"] = keep(out_dir / "side_by_side.png").name
    files["side_by_side_animation"] = keep(save_gif(out_dir / "side_by_side.gif", pairs)).name
    mp4 = {name: keep(save_mp4(out_dir / f"{name}.mp4", video)) for name, video in
           (("dense", dense), ("patched", patched), ("side_by_side", pairs))}
    if all(path is not None for path in mp4.values()):
        files["mp4"] = {name: path.name for name, path in mp4.items()}
    else:
        files["mp4"] = {"skipped": "no mp4 writer (pip install imageio imageio-ffmpeg); GIFs written instead"}
    return files


def _number(value: Any) -> str:
    if isinstance(value, dict) and "skipped" in value:
        return f'<span class="skip" title="{html.escape(value["skipped"])}">skipped</span>'
    if isinstance(value, dict):
        return ", ".join(f"{html.escape(k)} {_number(v)}" for k, v in value.items())
    if isinstance(value, (int, float)):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return html.escape(str(value))


def data_uri(path: Path) -> str:
    """The file as a ``data:`` URI, so a page showing it needs nothing next to it."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def write_html_report(path: Path, title: str, header: dict[str, Any], entries: list[dict[str, Any]],
                      averages: dict[str, Any], skipped: dict[str, str]) -> Path:
    """A self-contained HTML page: every prompt's pictures (embedded, so the page can be moved or mailed
    alone and read offline) and numbers, and the averages.

    ``entries``: {"prompt", "folder", "files", "metrics"} with paths relative to ``path.parent``;
    the side-by-side picture of each (for videos: the grid of its frames, then its animation) is read
    from there and embedded.
    """
    metric_names = list(averages)
    rows = []
    for index, entry in enumerate(entries):
        # a video: the grid of its frames (side_by_side.png), then the animation
        pictures = [entry["files"]["side_by_side"]] + [entry["files"][name] for name in ("side_by_side_animation",)
                                                        if name in entry["files"]]
        images = "<br>".join(f'<img src="{data_uri(path.parent / entry["folder"] / picture)}" '
                             'alt="dense | patched | difference">' for picture in pictures)
        cells = "".join(f"<td>{_number(entry['metrics'].get(name))}</td>" for name in metric_names)
        rows.append(
            f'<tr><td>{index}</td><td class="prompt">{html.escape(entry["prompt"])}</td>{cells}</tr>\n'
            f'<tr><td></td><td colspan="{len(metric_names) + 1}">{images}</td></tr>'
        )
    head = "".join(f"<th>{html.escape(name)}</th>" for name in metric_names)
    average_cells = "".join(f"<td>{_number(averages[name])}</td>" for name in metric_names)
    details = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in header.items())
    skips = "".join(f"<li>{html.escape(k)} skipped: {html.escape(v)}</li>" for k, v in skipped.items())
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}} img{{max-width:100%;image-rendering:pixelated}}
.prompt{{max-width:30em}} .skip{{color:#999}} .avg td{{font-weight:bold;background:#f4f4f4}}</style></head>
<body><h1>{html.escape(title)}</h1><ul>{details}</ul>
<p>Each picture: dense | patched | |difference| heat map (black = equal, white = largest difference; a still's colour bar gives the scale).</p>
<table><tr><th>#</th><th>prompt</th>{head}</tr>
<tr class="avg"><td></td><td>average over {len(entries)} prompt(s)</td>{average_cells}</tr>
{chr(10).join(rows)}
</table>{f"<ul>{skips}</ul>" if skips else ""}</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
