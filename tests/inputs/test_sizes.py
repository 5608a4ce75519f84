"""The one size / count / fraction check every command (estimate, bench, compare, demo) shares."""

import math

import pytest

from na_accel import ArgumentError
from na_accel.inputs.sizes import check_count, check_fraction, check_size


@pytest.mark.parametrize("family,size,message", [
    ("flux", (100, 64, None), "--height: 100 is not valid for m; allowed: a multiple of 16 pixels in [16, 1048576]"),
    ("flux", (64, 8, None), "--width: 8 is not valid for m; allowed: a multiple of 16 pixels in [16, 1048576]"),
    ("flux", (True, 64, None), "--height: True is not valid for m"),
    ("flux", (64.0, 64, None), "--height: 64.0 is not valid for m"),
    ("flux", (64, 64, 9), "--frames: 9 is not valid for m, an image model; allowed: 1 or none"),
    ("wan", (64, 64, 6), "--frames: 6 is not valid for m; allowed: 4k+1 frames in [1, 262141] (1, 5, 9, ..."),
    ("wan", (64, 64, 0), "--frames: 0 is not valid for m; allowed: 4k+1 frames"),
    ("wan", (64, 64, "9"), "--frames: '9' is not valid for m; allowed: 4k+1 frames"),
    ("cosmos", (64, 64, 10), "allowed: 8k+1 frames"),
])
def test_bad_sizes_name_field_value_and_allowed(family, size, message):
    with pytest.raises(ArgumentError) as info:
        check_size(family, "m", *size)
    assert message in str(info.value)


def test_good_sizes_give_the_token_grid():
    assert check_size("flux", "m", 4096, 4096, None) == (256, 256)
    assert check_size("hunyuan_video", "m", 720, 1280, 129) == (33, 45, 80)
    assert check_size("wan", "m", 480, 832, None) == (21, 30, 52)  # the family's default frames (81)
    assert check_size("hunyuan_video15", "m", 480, 848, None) == (31, 30, 53)  # VAE 16x, patch 1; 121 frames


def test_a_single_frame_model_of_a_video_family_is_an_image_model():
    """Cosmos 2 text-to-image: a video transformer that sees one latent frame."""
    assert check_size("cosmos", "m", 48, 80, None, single_frame=True) == (1, 3, 5)
    assert check_size("cosmos", "m", 48, 80, 1, single_frame=True) == (1, 3, 5)
    with pytest.raises(ArgumentError, match="--frames: 9 is not valid for m, an image model; allowed: 1 or none"):
        check_size("cosmos", "m", 48, 80, 9, single_frame=True)


@pytest.mark.parametrize("value,message", [
    (0, r"--steps: 0 is not valid; allowed: an integer in \[1, 9\]"),
    (10, r"--steps: 10 is not valid; allowed: an integer in \[1, 9\]"),
    (True, r"--steps: True is not valid; allowed: an integer in \[1, 9\]"),
    (2.0, "--steps: 2.0 is not valid"),
    ("3", "--steps: '3' is not valid"),
])
def test_counts_are_integers_in_a_range(value, message):
    with pytest.raises(ArgumentError, match=message):
        check_count("steps", value, 1, 9)
    assert check_count("steps", 9, 1, 9) == 9 and check_count("warmup", 0, 0, 9) == 0
    assert check_count("x", None, 1, 9) is None


@pytest.mark.parametrize("value", ["0.5", True, False, 1.5, -0.1, float("nan"), float("inf"), None])
def test_fractions_are_real_numbers_in_0_1(value):
    with pytest.raises(ArgumentError, match=r"--attention-share: .* is not valid; allowed: a number in \[0, 1\]"):
        check_fraction("attention_share", value)


def test_good_fractions_pass_as_floats():
    assert check_fraction("attention_share", 0) == 0.0 and check_fraction("attention_share", 0.25) == 0.25
    assert isinstance(check_fraction("attention_share", 1), float)


def test_the_per_axis_bound_is_the_recipes():
    from na_accel.families.family_types import MAX_AXIS_TOKENS
    from na_accel.recipe.scaling import MAX_AXIS

    assert MAX_AXIS_TOKENS == MAX_AXIS == 65_536


@pytest.mark.parametrize("family,size,message", [
    ("flux", (16 * 65_536, 16, None), None),  # the longest axis, one token wide: allowed
    ("flux", (16 * 65_537, 16, None), r"--height: 1048592 is not valid for m; allowed: a multiple of 16 pixels in "
                                      r"\[16, 1048576\]"),
    ("flux", (2**31, 16, None), r"--height: 2147483648 is not valid"),
    ("wan", (64, 64, 4 * 65_535 + 1), None),
    ("wan", (64, 64, 4 * 65_536 + 1), r"--frames: 262145 is not valid for m; allowed: 4k\+1 frames in \[1, 262141\]"),
    ("flux", (16 * 2048, 16 * 2048, None), None),  # 2**22 tokens: the most in all
    ("flux", (16 * 2048, 16 * 2049, None), r"--height x --width: 32768x32784 pixels is 2048x2049 = 4,196,352 tokens "
                                           r"for m; allowed: at most 4,194,304 tokens"),
])
def test_sizes_are_bounded_per_axis_and_in_all(family, size, message):
    if message is None:
        grid = check_size(family, "m", *size)
        assert max(grid) <= 65_536 and math.prod(grid) <= 2**22
    else:
        with pytest.raises(ArgumentError, match=message):
            check_size(family, "m", *size)


def test_tiny_presets_refuse_what_their_cpu_attention_cannot_hold():
    from na_accel.inputs.sizes import check_tiny_size

    check_tiny_size("tiny-flux", (64, 128))  # 8192 tokens at batch 1: the most
    check_tiny_size("tiny-flux", (32, 64), batch=16)  # 2048 tokens: 16 x 2048^2 = 8192^2
    with pytest.raises(ArgumentError, match=r"8,193 tokens per call; allowed for the tiny presets: batch x "
                                            r"tokens\^2 <= 8192\^2"):
        check_tiny_size("tiny-flux", (1, 8193))
    with pytest.raises(ArgumentError, match=r"--batch"):
        check_tiny_size("tiny-flux", (32, 64), batch=17)
