"""Errors raised by na_accel, and ``Refusal``: the reason returned where an input can't run sparse.

Every error is a ``NaAccelError`` and also the built-in exception users would expect
(``ValueError`` for bad values, ``TypeError`` for unsupported objects, ``RuntimeError`` for state
problems), so ``except ValueError`` keeps working in user code. ``close_name`` finds the
"did you mean" of an unknown name.
"""

from __future__ import annotations

import difflib


class NaAccelError(Exception):
    """Base class of every error na_accel raises on purpose."""


class RecipeError(NaAccelError, ValueError):
    """A recipe is malformed: the message names the field, the value and what is allowed. A recipe
    with several problems gets one RecipeError listing them, one a line; ``problems`` holds each
    problem's message (a single problem: the message itself)."""

    def __init__(self, *args: object, problems: "tuple[str, ...] | None" = None) -> None:
        super().__init__(*args)
        self._problems = tuple(problems) if problems else None

    @property
    def problems(self) -> "tuple[str, ...]":
        return self._problems or (str(self),)


class UnsupportedModelError(NaAccelError, TypeError):
    """The pipeline or transformer has no na_accel adapter."""


class BackendUnavailableError(NaAccelError, RuntimeError):
    """The requested attention backend cannot run here; the message lists every backend and why."""


class PatchStateError(NaAccelError, RuntimeError):
    """Patching something already patched, or unpatching something that is not patched."""


class ArgumentError(NaAccelError, ValueError):
    """A bad argument to a public function."""


class CostProfileError(NaAccelError, ValueError):
    """A cost profile (shipped, cached by ``na-accel calibrate`` or named by the user) is malformed."""


class Refusal(str):
    """Why an input can't take the sparse path, returned in place of a value (``grid | Refusal``),
    never raised: the caller runs the stock processor and counts the reason. A ``str``, so it reads
    (and compares) as the reason itself."""

    __slots__ = ()


def close_name(name: str, names: "list[str] | tuple[str, ...]") -> str | None:
    """The one of ``names`` closest to ``name`` (difflib), or None. Case never counts against a
    name: one that differs only in case wins (``Flux_GNA`` -> ``flux_gna``), and the closeness of
    the rest is measured in lower case (``Flux_GAN`` -> ``flux_gna``)."""
    folded = {candidate.casefold(): candidate for candidate in names}
    if name.casefold() in folded:
        return folded[name.casefold()]
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None
