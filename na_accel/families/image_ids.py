"""FLUX's and FLUX.2's image positions: the row-major (height, width) grids their image tokens form.

Both pipelines give every image token a position in ``img_ids``; column 0 says which image it
belongs to, columns 1 and 2 are its (h, w), running row-major over its grid. Runs of equal column-0
ids are the images, in token order: the generated one, then each reference image.

* FLUX.1 (Kontext): (tokens, 3) = (image, h, w); the reference image's ids are marked 1.
* FLUX.2: (tokens, 4) = (t, h, w, l); the generated image has t = 0, each reference image (editing,
  multi-reference, Klein inpainting's condition images) t = 10, 20, ...
  (``Flux2Pipeline._prepare_image_ids``); l is 0 for image tokens, the same within an image.

The ids are read on the CPU (one device sync; the adapters cache the answer per ids tensor).
"""

from __future__ import annotations

import torch

from ..errors import Refusal


def flux_image_grids(img_ids: torch.Tensor) -> tuple[tuple[int, int], ...] | Refusal:
    """FLUX.1's (tokens, 3) ids: the (height, width) grid of each image in token order, or why there are none."""
    return _image_grids(img_ids, 3, "(image, h, w)", flux2=False)


def grids_from_img_ids(img_ids: torch.Tensor) -> tuple[tuple[int, int], ...] | Refusal:
    """FLUX.2's (tokens, 4) ids: the (height, width) grid of each image in token order, or why there are none."""
    return _image_grids(img_ids, 4, "(t, h, w, l)", flux2=True)


def _image_grids(img_ids: torch.Tensor, columns: int, positions: str,
                 flux2: bool) -> tuple[tuple[int, int], ...] | Refusal:
    """``flux2``: the messages name the t id of the image and its (h, w) ids (FLUX.1: its img_ids)."""
    if img_ids.ndim != 2 or img_ids.shape[1] != columns or img_ids.shape[0] == 0:
        return Refusal(f"img_ids of shape {tuple(img_ids.shape)} are not (tokens, {columns}) positions {positions}")
    ids = img_ids.detach().cpu()
    if ids.is_floating_point() and not torch.equal(ids, ids.round()):
        return Refusal("img_ids are not integer positions")
    ids = ids.to(torch.int64)
    image = ids[:, 0]
    starts = [0, *(torch.nonzero(image[1:] != image[:-1]).flatten() + 1).tolist(), ids.shape[0]]
    grids = []
    for begin, end in zip(starts, starts[1:]):
        grid = _row_major_grid(ids[begin:end], "(h, w) ids" if flux2 else "img_ids")
        if isinstance(grid, Refusal):
            which = "the generated image" if not grids else f"reference image {len(grids)}"
            image_id = f"img_ids t = {int(image[begin])}, " if flux2 else ""
            return Refusal(f"{which} ({image_id}tokens {begin}..{end - 1}): {grid}")
        grids.append(grid)
    return tuple(grids)


def _row_major_grid(ids: torch.Tensor, ids_name: str) -> tuple[int, int] | Refusal:
    n = ids.shape[0]
    rows, cols = ids[:, 1], ids[:, 2]
    if int(rows.min()) < 0 or int(cols.min()) < 0:
        return Refusal("negative (h, w) ids")
    height, width = int(rows.max()) + 1, int(cols.max()) + 1
    if height * width != n:
        return Refusal(f"{n} tokens don't form the {height}x{width} grid their (h, w) ids span")
    if not (torch.equal(rows, torch.arange(height).repeat_interleave(width))
            and torch.equal(cols, torch.arange(width).repeat(height))):
        return Refusal(f"{ids_name} are not a row-major {height}x{width} grid")
    if ids.shape[1] > 3 and not bool((ids[:, 3] == ids[0, 3]).all()):
        return Refusal("the l ids differ within the image")
    return height, width


def format_grids(grids: tuple[tuple[int, int], ...]) -> str:
    """'a 4x5 grid' or 'grids 4x5 + 2x3' (for messages)."""
    sizes = " + ".join(f"{h}x{w}" for h, w in grids)
    return f"a {sizes} grid" if len(grids) == 1 else f"grids {sizes}"


__all__ = ["flux_image_grids", "format_grids", "grids_from_img_ids"]
