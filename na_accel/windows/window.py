"""GNA windows: what a recipe states (``WindowSpec``) and what a kernel runs (``ResolvedWindow``).

Windows are per token-grid axis: (height, width) for images, (frames, height, width) for video.
They are the vocabulary recipes and kernels share, so they sit below both (``na_accel.recipe``
states them, ``na_accel.kernels`` runs them); ``masks`` gives their exact meaning as boolean masks,
``neighborhoods`` the same per axis as key ranges (what counts use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class ResolvedWindow:
    """A window made legal for one concrete token grid (what the kernel actually runs)."""

    grid: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    is_causal: tuple[bool, ...]
    clamped_axes: tuple[int, ...] = ()  # axes whose window was clamped to the whole axis
    scaled: str | None = None  # how recipe.scaling changed the window for this grid, if it did
    snapped: str | None = None  # the tiles it was snapped to (kernels.snapping.snap_window), if any
    requested: tuple | None = None  # (kernel_size, stride) before snapping

    @property
    def covers_grid(self) -> bool:
        """True when every query sees every token: the attention is dense."""
        return all(k == n and not c for k, n, c in zip(self.kernel_size, self.grid, self.is_causal))

    @property
    def density(self) -> float:
        """Fraction of visual query-key pairs computed, exact (border shifts and strides included).

        The N-D neighborhood mask is the outer product of per-axis masks, so its density is the
        product of the per-axis densities, counted from key ranges without building a mask.
        """
        from .neighborhoods import axis_attended_pairs  # numpy: ``na-accel --help`` and ``models`` run without it

        fraction = 1.0
        for n, k, s, d, c in zip(self.grid, self.kernel_size, self.stride, self.dilation, self.is_causal):
            fraction *= axis_attended_pairs(n, k, s, d, c) / (n * n)
        return fraction

    def describe(self) -> str:
        """'grid 16x16, window ... (clamped ...) [scaled] [snapped]': the window with how it came to be."""
        clamped, scaled, snapped = self._changes()
        text = f"grid {format_axes(self.grid)}, {self.window_text}" + (f" ({clamped})" if clamped else "")
        return text + "".join(f" [{change}]" for change in (scaled, snapped) if change)

    @property
    def window_text(self) -> str:
        """'window 3x3 stride 1x1 dilation 1x1', as a ``WindowSpec`` of these numbers says it."""
        return _describe_window(self.kernel_size, self.stride, self.dilation, self.is_causal)

    @property
    def at_grid(self) -> str:
        """'window ... at grid 16x16': what ran, leaving how it came to be to ``changes``."""
        return f"{self.window_text} at grid {format_axes(self.grid)}"

    @property
    def changes(self) -> tuple[str, ...]:
        """How the recipe's window became this one, in order: clamped, scaled, snapped (those that apply)."""
        return tuple(change for change in self._changes() if change)

    def _changes(self) -> tuple[str | None, str | None, str | None]:
        clamped = f"clamped to grid on axes {list(self.clamped_axes)}" if self.clamped_axes else None
        snapped = self.snapped
        if snapped and self.requested and self.requested != (self.kernel_size, self.stride):
            snapped += f", from window {format_axes(self.requested[0])} stride {format_axes(self.requested[1])}"
        return clamped, self.scaled, snapped


@dataclass(frozen=True)
class WindowSpec:
    """A GNA window as the recipe states it, one entry per token-grid axis."""

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    is_causal: tuple[bool, ...]

    def resolve(self, grid: Sequence[int]) -> ResolvedWindow:
        """Make the window legal for ``grid``.

        On an axis where kernel_size * dilation exceeds the grid, the window is clamped to the
        whole axis (kernel = axis length, stride 1, dilation 1: dense along it, or full-length
        causal on a causal axis). An axis of length 1 therefore gets kernel 1; the attention core
        drops such axes before calling NATTEN.
        """
        grid = tuple(int(n) for n in grid)
        if len(grid) != len(self.kernel_size):
            raise ValueError(
                f"grid {grid} has {len(grid)} axes but the window has {len(self.kernel_size)}"
            )
        kernel, stride, dilation, clamped = [], [], [], []
        for axis, (n, k, s, d) in enumerate(zip(grid, self.kernel_size, self.stride, self.dilation)):
            if k * d > n:
                kernel.append(n)
                stride.append(1)
                dilation.append(1)
                clamped.append(axis)
            else:
                kernel.append(k)
                stride.append(s)
                dilation.append(d)
        return ResolvedWindow(
            grid=grid,
            kernel_size=tuple(kernel),
            stride=tuple(stride),
            dilation=tuple(dilation),
            is_causal=self.is_causal,
            clamped_axes=tuple(clamped),
        )

    def to_dict(self) -> dict[str, Any]:
        """Every key, so that a recipe rule written this way inherits nothing from its default."""
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "is_causal": list(self.is_causal),
        }

    def describe(self) -> str:
        return _describe_window(self.kernel_size, self.stride, self.dilation, self.is_causal)


def _describe_window(kernel, stride, dilation, causal) -> str:
    text = f"window {format_axes(kernel)} stride {format_axes(stride)} dilation {format_axes(dilation)}"
    if any(causal):
        text += f" causal {format_axes(tuple(int(c) for c in causal))}"
    return text


def format_axes(values: Sequence[int]) -> str:
    """(16, 16) -> '16x16': how grids, windows and tiles appear in na_accel's messages."""
    return "x".join(str(v) for v in values)


def effective_axes(grid: Sequence[int]) -> list[int]:
    """The axes a kernel sees: na_accel drops axes of length 1 (one latent frame: 2-D attention)."""
    return [a for a, n in enumerate(grid) if n > 1]
