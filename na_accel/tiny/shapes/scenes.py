"""The tiny shapes world: one coloured shape on a dark background, drawn from a seed and captioned.

This is the training data of ``tiny-flux-shapes`` (``train.py``) and what its tests read back: a
caption names the colour, the shape and one of nine positions ("a red circle at the top left"), the
picture shows exactly that. Drawing is plain torch (anti-aliased by supersampling), so the data is
reproducible from the seed alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# name -> RGB in [0, 1]; saturated and far apart, so a colour can be read back from a picture
COLOURS = {
    "red": (0.95, 0.15, 0.12),
    "green": (0.15, 0.85, 0.2),
    "blue": (0.15, 0.3, 0.95),
    "yellow": (0.95, 0.9, 0.15),
    "cyan": (0.15, 0.85, 0.9),
    "magenta": (0.9, 0.2, 0.85),
}
SHAPES = ("circle", "square", "triangle")
# name -> (row, column) of the shape's centre, as fractions of the picture's height and width
POSITIONS = {
    "top left": (0.25, 0.25),
    "top": (0.25, 0.5),
    "top right": (0.25, 0.75),
    "left": (0.5, 0.25),
    "center": (0.5, 0.5),
    "right": (0.5, 0.75),
    "bottom left": (0.75, 0.25),
    "bottom": (0.75, 0.5),
    "bottom right": (0.75, 0.75),
}
BACKGROUND = (0.08, 0.09, 0.12)  # top of the background; it brightens slightly towards the bottom
SIZE_RANGE = (0.3, 0.45)  # the shape's extent as a fraction of the picture's side
JITTER = 0.04  # the centre moves up to this fraction of the side around its named position
_SUPERSAMPLE = 2


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    position: str
    size: float = 0.28  # extent, fraction of the side
    offset: tuple[float, float] = (0.0, 0.0)  # jitter of the centre, fractions of height / width

    def caption(self, template: int = 0) -> str:
        if self.position == "center":
            where = "in the center"
        else:
            where = f"at the {self.position}" if " " in self.position else f"on the {self.position}"
        if template % 2:
            return f"{self.colour} {self.shape}, {self.position}"
        return f"a {self.colour} {self.shape} {where}"

    @property
    def centre(self) -> tuple[float, float]:
        row, col = POSITIONS[self.position]
        return row + self.offset[0], col + self.offset[1]


def vocabulary() -> list[str]:
    """Every word a caption uses (the tokenizer's vocabulary, special tokens aside)."""
    words = {"a", "at", "on", "the", "in", *COLOURS, *SHAPES}
    for position in POSITIONS:
        words.update(position.split())
    return sorted(words)


def random_scene(generator: torch.Generator) -> Scene:
    def pick(options):
        return options[int(torch.randint(len(options), (1,), generator=generator))]

    low, high = SIZE_RANGE
    size = low + (high - low) * float(torch.rand(1, generator=generator))
    offset = ((torch.rand(2, generator=generator) * 2 - 1) * JITTER).tolist()
    return Scene(pick(list(COLOURS)), pick(SHAPES), pick(list(POSITIONS)), size, (offset[0], offset[1]))


def draw(scene: Scene, height: int, width: int) -> torch.Tensor:
    """The scene as a [3, height, width] picture in [0, 1]."""
    rows = (torch.arange(height * _SUPERSAMPLE) + 0.5) / (height * _SUPERSAMPLE)
    cols = (torch.arange(width * _SUPERSAMPLE) + 0.5) / (width * _SUPERSAMPLE)
    y, x = torch.meshgrid(rows, cols, indexing="ij")
    cy, cx = scene.centre
    # distances in units of the shorter side, so shapes keep their form on non-square pictures
    side = min(height, width)
    dy, dx = (y - cy) * height / side, (x - cx) * width / side
    half = scene.size / 2
    if scene.shape == "circle":
        inside = dy**2 + dx**2 <= half**2
    elif scene.shape == "square":
        inside = (dy.abs() <= half * 0.9) & (dx.abs() <= half * 0.9)
    elif scene.shape == "triangle":  # pointing up, its base at the bottom
        top, bottom = -half, half * 0.8
        spread = (dy - top) / (bottom - top) * half * 1.1
        inside = (dy >= top) & (dy <= bottom) & (dx.abs() <= spread)
    else:
        raise ValueError(f"shape: {scene.shape!r} is not one of {', '.join(SHAPES)}")
    colour = torch.tensor(COLOURS[scene.colour]).view(3, 1, 1)
    picture = torch.where(inside, colour, _background(y))
    return torch.nn.functional.avg_pool2d(picture[None], _SUPERSAMPLE)[0].clamp(0, 1)


def _background(y: torch.Tensor) -> torch.Tensor:
    return torch.tensor(BACKGROUND).view(3, 1, 1) * (1 + 0.8 * y)


def foreground(picture: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """[H, W] bool: the pixels of a [3, H, W] picture that are not the background (the shape and its edge)."""
    height = picture.shape[-2]
    rows = ((torch.arange(height) + 0.5) / height).view(1, height, 1)
    return (picture - _background(rows)).abs().amax(dim=0) > threshold


def colour_centre(picture: torch.Tensor, colour: str, tolerance: float = 0.3) -> tuple[float, float, float] | None:
    """Where ``colour`` is in a [3, H, W] picture: (row, column) of its pixels' centre as fractions of
    the side, and the fraction of pixels of that colour; None where no pixel is within ``tolerance``
    (the largest per-channel difference) of it."""
    target = torch.tensor(COLOURS[colour], dtype=picture.dtype).view(3, 1, 1)
    close = (picture - target).abs().amax(dim=0) <= tolerance
    share = float(close.float().mean())
    if not close.any():
        return None
    height, width = close.shape
    rows, cols = close.nonzero(as_tuple=True)
    return (float(rows.float().mean() + 0.5) / height, float(cols.float().mean() + 0.5) / width, share)


def nearest_position(row: float, col: float) -> str:
    """The named position closest to (row, col), fractions of the side."""
    return min(POSITIONS, key=lambda name: math.dist(POSITIONS[name], (row, col)))


def prompt_scene(prompt: str) -> tuple[str | None, str | None, str | None]:
    """(colour, shape, position) a prompt names, each None where it names none (the last one named wins)."""
    words = prompt.lower().replace(",", " ").replace(".", " ").split()
    colour = next((w for w in reversed(words) if w in COLOURS), None)
    shape = next((w for w in reversed(words) if w in SHAPES), None)
    vertical = next((w for w in reversed(words) if w in ("top", "bottom")), None)
    horizontal = next((w for w in reversed(words) if w in ("left", "right")), None)
    if vertical or horizontal:
        position = " ".join(w for w in (vertical, horizontal) if w)
    else:
        position = "center" if "center" in words else None
    return colour, shape, position


def read_picture(picture: torch.Tensor, least_share: float = 0.005) -> tuple[str, str] | None:
    """(colour, position) of the shape a [3, H, W] picture in [0, 1] shows: the caption colour covering
    the most pixels (at least ``least_share`` of them) and the named position nearest its centre;
    None where no caption colour covers that much."""
    found = {name: colour_centre(picture, name) for name in COLOURS}
    found = {name: where for name, where in found.items() if where is not None and where[2] >= least_share}
    if not found:
        return None
    colour = max(found, key=lambda name: found[name][2])
    row, col, _ = found[colour]
    return colour, nearest_position(row, col)


__all__ = ["foreground", "prompt_scene", "read_picture", "COLOURS", "POSITIONS", "SHAPES", "Scene", "colour_centre", "draw", "nearest_position", "random_scene", "vocabulary"]
