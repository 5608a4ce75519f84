"""The one value that crosses from the attention seam to a backend: ``GNACall``.

A joint sequence is the text tokens and the tokens of one or more visual grids (the generated
image's, then each reference image's), text first or last. ``GNACall`` states that layout and the
window each grid runs: what every backend, Ulysses and the tune read, and derive new calls from
(``grid_call`` for the per-grid decomposition, ``dataclasses.replace`` for other windows). No torch
here: the tensors travel beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..windows import ResolvedWindow


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class GNACall:
    """GNA joint attention over one joint sequence: its layout and its windows.

    ``window`` runs on the generated image's grid (``window.grid``); the sequence holds those
    tokens, then one grid per ``extra_windows`` entry (reference images), and ``text_len`` text
    tokens, before them all when ``text_first`` else after. ``text_valid_lens`` (one per batch row)
    marks padded text: in row b only the first ``text_valid_lens[b]`` text tokens are keys; None:
    every text token is.
    """

    window: ResolvedWindow
    text_len: int = 0
    text_first: bool = True
    text_valid_lens: tuple[int, ...] | None = None
    extra_windows: tuple[ResolvedWindow, ...] = ()  # one per reference-image grid, in token order

    def __post_init__(self) -> None:
        if not isinstance(self.window, ResolvedWindow):
            raise ValueError(f"GNACall: window={self.window!r}; allowed: a ResolvedWindow (WindowSpec.resolve(grid))")
        if not _whole(self.text_len) or self.text_len < 0:
            raise ValueError(f"GNACall: text_len={self.text_len!r}; allowed: a whole number >= 0")
        if not isinstance(self.text_first, bool):
            raise ValueError(f"GNACall: text_first={self.text_first!r}; allowed: True or False")
        if self.text_valid_lens is not None:
            lens = tuple(self.text_valid_lens) if isinstance(self.text_valid_lens, (tuple, list)) else ()
            if not lens or not all(_whole(n) and 0 <= n <= self.text_len for n in lens):
                raise ValueError(f"GNACall: text_valid_lens={self.text_valid_lens!r}; allowed: None or one whole "
                                 f"number in 0..text_len={self.text_len} per batch row")
            object.__setattr__(self, "text_valid_lens", lens)
        extra = tuple(self.extra_windows) if isinstance(self.extra_windows, (tuple, list)) else None
        rank = len(self.window.grid)
        if extra is None or not all(isinstance(w, ResolvedWindow) and len(w.grid) == rank for w in extra):
            raise ValueError(f"GNACall: extra_windows={self.extra_windows!r}; allowed: a tuple of ResolvedWindows on "
                             f"{rank}-D grids (window's rank), one per reference-image grid")
        object.__setattr__(self, "extra_windows", extra)

    @property
    def windows(self) -> tuple[ResolvedWindow, ...]:
        """Every grid's window, in token order."""
        return (self.window, *self.extra_windows)

    @property
    def grids(self) -> tuple[tuple[int, ...], ...]:
        """Every visual grid, in token order."""
        return tuple(w.grid for w in self.windows)

    @property
    def n_visual(self) -> int:
        """Visual tokens: every grid's."""
        return sum(math.prod(g) for g in self.grids)

    @property
    def tokens(self) -> int:
        """The joint sequence's length."""
        return self.n_visual + self.text_len

    @property
    def visual_slice(self) -> slice:
        """The visual tokens of the joint sequence (every grid's, contiguous)."""
        start = self.text_len if self.text_first else 0
        return slice(start, start + self.n_visual)

    @property
    def text_slice(self) -> slice:
        """The text tokens of the joint sequence."""
        start = 0 if self.text_first else self.n_visual
        return slice(start, start + self.text_len)

    @property
    def grid_slices(self) -> tuple[slice, ...]:
        """Each grid's tokens in the joint sequence, in token order."""
        start, out = self.visual_slice.start, []
        for grid in self.grids:
            out.append(slice(start, start + math.prod(grid)))
            start += math.prod(grid)
        return tuple(out)

    def check_tokens(self, tokens: int, where: str) -> None:
        """A ValueError (``where``: who asks) unless the joint sequence has ``tokens`` tokens."""
        if tokens != self.tokens:
            raise ValueError(f"{where}: sequence length {tokens} != grids {list(self.grids)} ({self.n_visual} "
                             f"tokens) + {self.text_len} text tokens")

    def grid_call(self, g: int) -> GNACall:
        """Grid ``g``'s queries as a one-grid call on the sequence reordered to [the other grids,
        text, grid g] (``kernels.multi_grid``): the other grids' tokens lead the text as keys every
        query of grid g sees, which keeps padded text the end of that run of keys."""
        others = self.n_visual - math.prod(self.grids[g])
        valid = None if self.text_valid_lens is None else tuple(others + n for n in self.text_valid_lens)
        return replace(self, window=self.windows[g], text_len=others + self.text_len, text_first=True,
                       text_valid_lens=valid, extra_windows=())


__all__ = ["GNACall"]
