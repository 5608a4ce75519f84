"""The checks every command shares for sizes, counts and fractions: estimate, bench, compare and demo
refuse the same values with the same message (field, value, what is allowed). Sizes are checked by
the family's geometry (``FamilyGeometry.token_grid``); ``check_size`` looks the geometry up by name.

Fields are named as on the command line (``--height``), the Python API included, so an error reads
the same wherever it comes from.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ArgumentError
from ..families.family_types import MAX_AXIS_TOKENS, FamilyGeometry, is_int
from ..families.registry import family_geometry


def _flag(field: str) -> str:
    return "--" + field.lstrip("-").replace("_", "-")


# The most of each count a command takes (checked before anything is built; each named in its error).
# Denoising steps: diffusers' schedulers are trained over 1000 timesteps (num_train_timesteps) and the
# DDPM-style ones refuse more inference steps; past that a sampler gains nothing, it only runs longer.
MAX_STEPS = 1000
# Images / videos per call: 256 FLUX 1024x1024 images are 1M tokens a call, past an 80 GB GPU's
# activations for every shipped family at its default size.
MAX_BATCH = 256
# Timed and warm-up runs per mode: a median of 1000 runs is as good as it gets; more is only time.
MAX_REPEATS = 1000
MAX_WARMUP = 100
# Text tokens of random-weights inputs: the families' encoders pass 256..512; the per-axis token bound.
MAX_TEXT_LEN = MAX_AXIS_TOKENS
# Video frames in pixels: the longest any family allows (8x temporal compression, Cosmos-Predict1,
# times the per-axis bound); each model's own bound is its geometry's (``FamilyGeometry.token_grid``).
MAX_FRAMES = 8 * (MAX_AXIS_TOKENS - 1) + 1
# Attention head_dim (estimate, calibrate): the shipped families use 128; the kernels' tile tables
# stop well below 1024.
MAX_HEAD_DIM = 1024
# Attention heads (calibrate): the shipped families have 24..48.
MAX_HEADS = 1024

# Tiny presets (na_accel.tiny: random weights, 2 heads x 16, run on the CPU by demo, compare and bench
# by default): dense attention on the CPU (and the reference backend's mask, and NATTEN's unfused CPU
# path) holds a tokens x tokens score matrix per head and image, 4 bytes each: at 8192 tokens 256 MiB
# per head, 512 MiB per image. So a call may have batch x tokens^2 <= TINY_MAX_TOKENS^2, i.e. at most
# 8192 tokens (1024x2048 tiny-flux pixels) at batch 1; larger sizes are refused before anything is built.
TINY_MAX_TOKENS = 8192


def check_count(field: str, value: Any, minimum: int, maximum: int) -> Any:
    """``value`` if it is None or an integer in [``minimum``, ``maximum``] (True, 2.0 and "3" are refused)."""
    if value is not None and not (is_int(value) and minimum <= value <= maximum):
        raise ArgumentError(f"{_flag(field)}: {value!r} is not valid; allowed: an integer in [{minimum}, {maximum}]")
    return value


def check_tiny_size(name: str, grid: tuple[int, ...], batch: int = 1, size: str | None = None) -> None:
    """Refuses a call of the tiny preset ``name`` whose attention would not fit in memory (``TINY_MAX_TOKENS``)."""
    tokens = math.prod(grid)
    if batch * tokens**2 > TINY_MAX_TOKENS**2:
        at = f"{size} " if size else ""
        raise ArgumentError(
            f"--height / --width{' / --frames' if len(grid) == 3 else ''}{' / --batch' if batch > 1 else ''}: "
            f"{name} at {at}(token grid {'x'.join(map(str, grid))}, batch {batch}) is {tokens:,} tokens per call; "
            f"allowed for the tiny presets: batch x tokens^2 <= {TINY_MAX_TOKENS}^2, i.e. at most "
            f"{TINY_MAX_TOKENS} tokens at batch 1 (dense attention on the CPU holds a tokens x tokens score "
            f"matrix per head and image: {_gib(2 * batch * tokens**2 * 4)} here; "
            "na_accel.inputs.sizes.TINY_MAX_TOKENS)"
        )


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


def check_fraction(field: str, value: Any) -> float:
    """``value`` as a float if it is a real number in [0, 1] ("0.5", True, nan are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ArgumentError(f"{_flag(field)}: {value!r} is not valid; allowed: a number in [0, 1]")
    return float(value)


def check_size(geometry: FamilyGeometry | str, name: str, height: Any, width: Any, frames: Any = None, *,
               single_frame: bool = False) -> tuple[int, ...]:
    """The token grid of ``name`` (a model of ``geometry``'s family, or of the family named so) at
    height x width (x frames) pixels, or an ArgumentError naming the field, the value and what is
    allowed: ``FamilyGeometry.token_grid``, the one size check."""
    geometry = family_geometry(geometry) if isinstance(geometry, str) else geometry
    return geometry.token_grid(height, width, frames, name=name, single_frame=single_frame)


__all__ = ["MAX_AXIS_TOKENS", "MAX_BATCH", "MAX_FRAMES", "MAX_HEADS", "MAX_HEAD_DIM", "MAX_REPEATS", "MAX_STEPS", "MAX_TEXT_LEN", "MAX_WARMUP",
           "TINY_MAX_TOKENS", "check_count", "check_fraction", "check_size", "check_tiny_size"]
