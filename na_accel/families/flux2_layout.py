"""FLUX.2's image positions: the row-major (height, width) grids its image tokens form.

Flux2 pipelines give every image token a position (t, h, w, l) in ``img_ids``: the generated image
has t = 0 and (h, w) running row-major over its grid; each reference image (editing,
multi-reference, Klein inpainting's condition images) follows it in the sequence with its own grid
and t = 10, 20, ... (``Flux2Pipeline._prepare_image_ids``); l is 0 for image tokens. Runs of equal
t are the images, in token order.
"""

from __future__ import annotations

import torch

from ..errors import Refusal


def image_grids(img_ids: torch.Tensor) -> tuple[tuple[int, int], ...] | Refusal:
    """The (height, width) grid of each image in token order, or why the ids are not such grids.

    ``img_ids`` is (tokens, 4). Reads the ids on the CPU (one device sync).
    """
    if img_ids.ndim != 2 or img_ids.shape[1] != 4 or img_ids.shape[0] == 0:
        return Refusal(f"img_ids of shape {tuple(img_ids.shape)} are not (tokens, 4) positions (t, h, w, l)")
    ids = img_ids.detach().cpu()
    if ids.is_floating_point() and not torch.equal(ids, ids.round()):
        return Refusal("img_ids are not integer positions")
    ids = ids.to(torch.int64)
    t = ids[:, 0]
    starts = [0, *(torch.nonzero(t[1:] != t[:-1]).flatten() + 1).tolist(), ids.shape[0]]
    grids = []
    for begin, end in zip(starts, starts[1:]):
        grid = _row_major_grid(ids[begin:end])
        if isinstance(grid, Refusal):
            which = "the generated image" if not grids else f"reference image {len(grids)}"
            return Refusal(f"{which} (img_ids t = {int(t[begin])}, tokens {begin}..{end - 1}): {grid}")
        grids.append(grid)
    return tuple(grids)


def _row_major_grid(ids: torch.Tensor) -> tuple[int, int] | Refusal:
    n = ids.shape[0]
    rows, cols, layers = ids[:, 1], ids[:, 2], ids[:, 3]
    if int(rows.min()) < 0 or int(cols.min()) < 0:
        return Refusal("negative (h, w) ids")
    height, width = int(rows.max()) + 1, int(cols.max()) + 1
    if height * width != n:
        return Refusal(f"{n} tokens don't form the {height}x{width} grid their (h, w) ids span")
    if not (torch.equal(rows, torch.arange(height).repeat_interleave(width))
            and torch.equal(cols, torch.arange(width).repeat(height))):
        return Refusal(f"(h, w) ids are not a row-major {height}x{width} grid")
    if not bool((layers == layers[0]).all()):
        return Refusal("the l ids differ within the image")
    return height, width


def grids_text(grids: tuple[tuple[int, int], ...]) -> str:
    """'a 4x5 grid' or 'grids 4x5 + 2x3' (for messages)."""
    sizes = " + ".join(f"{h}x{w}" for h, w in grids)
    return f"a {sizes} grid" if len(grids) == 1 else f"grids {sizes}"


__all__ = ["grids_text", "image_grids"]
