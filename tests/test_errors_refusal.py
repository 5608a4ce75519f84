"""``Refusal``: the one value-or-reason return type. Each reader of a model's inputs returns its value,
or a Refusal saying why the call can't run sparse (a str, so it reads as the reason)."""

import pytest
import torch

from na_accel.errors import Refusal
from na_accel.families.base import video_token_grid
from na_accel.families.image_ids import flux_image_grids, grids_from_img_ids as flux2_image_grids
from na_accel.families.qwen_image import grids_from_img_shapes as qwen_image_grids
from na_accel.kernels.ulysses import ulysses_shards


@pytest.mark.parametrize("refused, reason", [
    (video_token_grid(torch.zeros(1, 4, 3, 8), (1, 2, 2)), "is not a (batch, channels, frames, height, width)"),
    (video_token_grid(torch.zeros(1, 4, 3, 8, 9), (1, 2, 2)), "is not a multiple of the patch size (1, 2, 2)"),
    (flux2_image_grids(torch.zeros(5, 3)), "are not (tokens, 4) positions"),
    # FLUX.1's ids go through FLUX.2's checks too (one parser): non-integer and negative ids refused
    (flux_image_grids(torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.0, 1.5]])), "img_ids are not integer positions"),
    (flux_image_grids(torch.tensor([[0, -1, 0], [0, 0, 0]])), "negative (h, w) ids"),
    (qwen_image_grids(None), "forward called without img_shapes"),
    (qwen_image_grids([[(2, 4, 4)]]), "has a grid of several frames"),
    (ulysses_shards(object()), "without a context_parallel_config"),
])
def test_a_reader_refuses_with_a_reason(refused, reason):
    assert isinstance(refused, Refusal) and reason in refused


def test_a_value_is_never_a_refusal():
    assert video_token_grid(torch.zeros(1, 4, 3, 8, 8), (1, 2, 2)) == (3, 4, 4)
    assert not isinstance(qwen_image_grids([[(1, 4, 6)]]), Refusal)
    assert Refusal("why") == "why" and str(Refusal("why")) == "why"
