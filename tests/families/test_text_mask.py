"""``prefix_lengths`` against a plain per-row loop: the valid lengths of right-padded text, None for
any other pattern."""

import pytest
import torch

from na_accel.families.text_mask import prefix_lengths


def _by_loop(valid: torch.Tensor, also: torch.Tensor | None):
    lengths = []
    for row in valid.tolist():
        n = sum(row)
        if row != [True] * n + [False] * (len(row) - n):
            return None
        lengths.append(n)
    if also is not None and not bool(also.all()):
        return None
    return tuple(lengths)


@pytest.mark.parametrize("rows, expected", [
    ([[1, 1, 1, 0], [1, 0, 0, 0]], (3, 1)),  # right padding
    ([[1, 1, 1, 1]], (4,)),  # nothing padded
    ([[0, 0, 0]], (0,)),  # an empty prompt
    ([[0, 1, 1, 1]], None),  # left padding
    ([[1, 0, 1, 0]], None),  # a hole
])
def test_hand_worked_masks(rows, expected):
    assert prefix_lengths(torch.tensor(rows, dtype=torch.bool)) == expected


def test_also_must_hold_everywhere():
    valid = torch.tensor([[1, 1, 0]], dtype=torch.bool)
    assert prefix_lengths(valid, also=torch.tensor([True, True])) == (2,)
    assert prefix_lengths(valid, also=torch.tensor([True, False])) is None


def test_random_masks_agree_with_a_per_row_loop():
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        batch, tokens = (int(n) for n in torch.randint(1, 5, (2,), generator=generator))
        if torch.rand((), generator=generator) < 0.5:  # right-padded rows
            lengths = torch.randint(0, tokens + 1, (batch,), generator=generator)
            valid = torch.arange(tokens)[None, :] < lengths[:, None]
        else:  # anything
            valid = torch.rand(batch, tokens, generator=generator) < 0.6
        also = torch.rand(3, generator=generator) < 0.9
        assert prefix_lengths(valid, also) == _by_loop(valid, also), (valid, also)
