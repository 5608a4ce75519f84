"""The checks every recipe passes, whatever built it: a file, a dict or ``Recipe(...)`` in Python.

``Recipe.__post_init__`` runs ``check_recipe`` on the typed fields (so ``dataclasses.replace`` is
checked too); ``parse`` only turns the dict form into those fields. Every error is a RecipeError
naming the field, the value and what is allowed.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator, Mapping, Sequence

import re2

from ..errors import RecipeError
from ..families.registry import family_geometry, supported_families
from ..windows import WindowSpec
from .data import check_plain_data, short_repr, yaml11_hint
from .scaling import MAX_AXIS, SCALING_MODES, SNAP_AUTO, GridOverride, ScalingSpec, SnapSpec

SPEED_GATES = ("auto", "sparse", "dense")  # na_accel.speed.gate.POLICIES
MAX_DENSE_STEPS = 100_000  # denoising steps; real schedules have <= 1000
# Free-form documentation keys a recipe may carry; they never change behaviour.
METADATA_KEYS = ("name", "description", "source", "provenance", "tuned_for", "notes", "metadata")
SNAP_CHOICES = "false, true/'auto' (the running backend's tiles), a backend name {}, or {{q_tile: [...], kv_tile: [...]}}"


class Problems:
    """The problems of a recipe, collected so that one RecipeError reports them all.

    Each independent check runs in ``with problems.check():``; its RecipeError (or each problem of
    a RecipeError that already lists several) is kept, once, and the next check runs. ``raise_any`` raises
    them: one problem in its own words, several one a line (``recipe_error``).
    """

    def __init__(self) -> None:
        self.messages: list[str] = []

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except RecipeError as exc:
            self.add(exc)

    def add(self, problem: "RecipeError | str") -> None:
        for message in problems_of(problem) if isinstance(problem, RecipeError) else [problem]:
            if message not in self.messages:  # a shorthand's axes, a default checked twice: once
                self.messages.append(message)

    def raise_any(self) -> None:
        if self.messages:
            raise recipe_error(self.messages) from None


def problems_of(error: RecipeError) -> list[str]:
    """The problems a RecipeError reports (``RecipeError.problems``: each of several, else its message)."""
    return list(error.problems)


def recipe_error(messages: Sequence[str], source: str | None = None) -> RecipeError:
    """One RecipeError for ``messages`` (each naming its field, the value and what is allowed): a
    single one as it is, several after a line that counts them, one a line. ``source`` (where the
    recipe came from) ends the message of one problem and the first line of several."""
    where = f" (in {source})" if source else ""
    if len(messages) == 1:
        return RecipeError(f"{messages[0]}{where}", problems=tuple(messages))
    return RecipeError(f"recipe: {len(messages)} problems{where}:\n" + "\n".join(f"  {m}" for m in messages),
                       problems=tuple(messages))


def check_recipe(recipe: Any) -> None:
    """Raise RecipeError unless every field of ``recipe`` (a ``Recipe``) holds an allowed value; the
    error reports every problem found (``Problems``)."""
    problems = Problems()
    axes = None
    with problems.check():
        axes = family_axes(recipe.model)
    for name in ("dense_steps", "dense_final_steps"):
        with problems.check():
            check_int(f"recipe.{name}", getattr(recipe, name), 0, MAX_DENSE_STEPS, "na_accel.recipe.MAX_DENSE_STEPS")
    if not isinstance(recipe.speed_gate, str) or recipe.speed_gate not in SPEED_GATES:
        problems.add(f"recipe.speed_gate: {short_repr(recipe.speed_gate)} is not allowed; allowed: "
                     f"{', '.join(SPEED_GATES)} (auto: sparse only where the device's cost model says it pays)")
    if axes is not None:  # the windows are checked against the family's axes
        with problems.check():
            check_window("recipe.default", recipe.default, axes)
    for index, rule in enumerate(recipe.layers):
        where = f"recipe.layers[{index}]"
        with problems.check():
            check_match(f"{where}.match", rule.match)
        if axes is not None:
            with problems.check():
                check_window(where, rule.window, axes, inherited=recipe.default)
    if recipe.scaling is not None and axes is not None:
        with problems.check():
            check_scaling(recipe.scaling, axes)
    if recipe.name is not None and not isinstance(recipe.name, str):
        problems.add(f"recipe.name: expected a string or None, got {short_repr(recipe.name)}")
    with problems.check():
        check_metadata(recipe.metadata)
    problems.raise_any()


def family_axes(model: Any) -> tuple[str, ...]:
    """The token-grid axes of model family ``model``, or a RecipeError listing the families."""
    if not isinstance(model, str) or model not in supported_families():
        raise RecipeError(f"recipe.model: unknown model family {short_repr(model)}; allowed: {supported_families()}")
    return family_geometry(model).axes


def check_int(where: str, value: Any, minimum: int, maximum: int, limit: str = "na_accel.recipe.scaling.MAX_AXIS") -> None:
    """Raise RecipeError unless ``value`` is an int in [minimum, maximum] (``limit`` names the maximum)."""
    allowed = f"allowed range [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RecipeError(f"{where}: expected an integer >= {minimum}, got {short_repr(value)}; {allowed}"
                          f"{yaml11_hint(value, 'integer')}")
    if value > maximum:
        raise RecipeError(f"{where}: expected an integer <= {maximum} ({limit}), got {short_repr(value)}; {allowed}")


def check_window(where: str, window: Any, axes: tuple[str, ...], inherited: WindowSpec | None = None) -> None:
    """A layer's window: None (dense) or a WindowSpec of the family's rank with legal values.

    ``inherited`` is the default a rule takes its unstated keys from (named when it explains an error).
    """
    if window is None:
        return
    if not isinstance(window, WindowSpec):
        raise RecipeError(f"{where}: expected a na_accel.recipe.WindowSpec or None (dense), got {short_repr(window)}")
    problems = Problems()  # every key of the window, each axis
    for key, minimum in (("kernel_size", 2), ("stride", 1), ("dilation", 1)):
        with problems.check():
            for at, value in _per_axis(f"{where}.{key}", getattr(window, key), axes, "integer"):
                with problems.check():
                    check_int(at, value, minimum, MAX_AXIS)
    with problems.check():
        for at, value in _per_axis(f"{where}.is_causal", window.is_causal, axes, "boolean"):
            if not isinstance(value, bool):
                problems.add(f"{at}: expected true or false, got {short_repr(value)}{yaml11_hint(value, 'boolean')}")
    problems.raise_any()  # the comparison below needs legal sizes
    for axis, (k, s) in enumerate(zip(window.kernel_size, window.stride)):
        if s > k:
            as_default = inherited is not None and inherited.stride[axis] == s
            named = f"{where}.stride" + (" (as in recipe.default.stride, which rules inherit)" if as_default else "")
            raise RecipeError(f"{named}: stride {s} on axis {axis} ({axes[axis]}) is larger than kernel_size {k} "
                              f"({where}.kernel_size); stride must be <= kernel_size")


def check_match(where: str, match: Any) -> None:
    if not isinstance(match, str) or not match:
        raise RecipeError(f"{where}: expected a non-empty glob (fnmatch) or 're:<regex>' string, got {short_repr(match)}")
    if match.startswith("re:"):
        compiled_regex(match[3:], where)


# ``re:`` rules run on RE2 (google-re2), not Python's ``re``: a recipe is hostile input, and a
# backtracking engine takes exponential time on patterns such as ``(.|.)*Z``; RE2 matches in time
# linear in the name. It refuses what it cannot run in linear time (backreferences, lookaround).
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the RecipeError says what is wrong; no absl log line on stderr
RE2_SYNTAX = "'re:' rules use RE2 syntax (linear time; no backreferences or lookaround)"


def compiled_regex(pattern: str, where: str = "recipe.layers[].match") -> Any:
    """The RE2 regex of a ``re:`` rule's ``pattern`` (compiled once, cached), or a RecipeError."""
    try:
        return _compile_re2(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RecipeError(f"{where}: invalid regex {short_repr(pattern)}: RE2 cannot run it ({reason}); "
                          f"{RE2_SYNTAX}") from None


@functools.lru_cache(maxsize=1024)
def _compile_re2(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def check_grid(where: str, value: Any, axes: tuple[str, ...]) -> tuple[int, ...]:
    """``value`` (a tuple) as a grid: one integer >= 1 per axis."""
    if not isinstance(value, tuple) or len(value) != len(axes):
        raise RecipeError(f"{where}: expected a list of {len(axes)} integers >= 1 (axes {list(axes)}; "
                          f"a tuple in Python), got {short_repr(value)}")
    for at, item in _per_axis(where, value, axes, "integer"):
        check_int(at, item, 1, MAX_AXIS)
    return tuple(value)


def check_scaling(scaling: Any, axes: tuple[str, ...]) -> None:
    where = "recipe.scaling"
    if not isinstance(scaling, ScalingSpec):
        raise RecipeError(f"{where}: expected a na_accel.recipe.scaling.ScalingSpec or None, got {short_repr(scaling)}")
    if scaling.mode not in SCALING_MODES:
        raise RecipeError(f"{where}.mode: unknown mode {short_repr(scaling.mode)}; allowed: {list(SCALING_MODES)}")
    if scaling.tuned_grid is not None:
        check_grid(f"{where}.tuned_grid", scaling.tuned_grid, axes)
    elif scaling.mode == "relative":
        raise RecipeError(
            f"{where}.tuned_grid: missing; mode 'relative' needs the token grid the windows were tuned "
            f"for ({len(axes)} integers for axes {list(axes)}), as scaling.tuned_grid or tuned_for.token_grid"
        )
    if not isinstance(scaling.overrides, tuple):
        raise RecipeError(f"{where}.overrides: expected a tuple of GridOverride, got {short_repr(scaling.overrides)}")
    grids = set()
    for index, override in enumerate(scaling.overrides):
        _check_override(f"{where}.overrides[{index}]", override, axes, grids)
    _check_snap(f"{where}.snap", scaling.snap, axes)


def _check_override(at: str, override: Any, axes: tuple[str, ...], seen: set) -> None:
    if not isinstance(override, GridOverride):
        raise RecipeError(f"{at}: expected a GridOverride (a grid and its window), got {short_repr(override)}")
    grid = check_grid(f"{at}.grid", override.grid, axes)
    if grid in seen:
        raise RecipeError(f"{at}.grid: {list(grid)} is given twice; one override per grid")
    seen.add(grid)
    if override.window is None:
        raise RecipeError(f"{at}.dense: an override is a window for its grid; to run a grid dense, "
                          "give kernel_size equal to the grid")
    check_window(at, override.window, axes)
    for axis, (n, k, d) in enumerate(zip(grid, override.window.kernel_size, override.window.dilation)):
        if n > 1 and k * d > n:
            raise RecipeError(f"{at}.kernel_size: kernel {k} x dilation {d} on axis {axis} ({axes[axis]}) exceeds "
                              f"the override's grid {list(grid)}; NATTEN needs kernel * dilation <= grid")


def _check_snap(where: str, snap: Any, axes: tuple[str, ...]) -> None:
    from ..kernels.tiles import TILE_BACKENDS

    if snap is None:
        return
    allowed = SNAP_CHOICES.format(list(TILE_BACKENDS))
    if not isinstance(snap, SnapSpec):
        raise RecipeError(f"{where}: expected a na_accel.recipe.scaling.SnapSpec or None, got {short_repr(snap)}")
    if snap.source not in (SNAP_AUTO, "explicit", *TILE_BACKENDS):
        raise RecipeError(f"{where}: unknown tile source {short_repr(snap.source)}; allowed: {allowed}"
                          f"{yaml11_hint(snap.source, 'boolean')}")
    if snap.source == "explicit":
        check_grid(f"{where}.q_tile", snap.q_tile, axes)
        check_grid(f"{where}.kv_tile", snap.kv_tile, axes)
    elif snap.q_tile is not None or snap.kv_tile is not None:
        raise RecipeError(f"{where}: tiles are given only with source 'explicit', got source {snap.source!r}")


def check_metadata(metadata: Any) -> None:
    allowed = [k for k in METADATA_KEYS if k != "name"]  # the name is Recipe.name
    if not isinstance(metadata, Mapping):
        raise RecipeError(f"recipe.metadata: expected a mapping with keys from {allowed}, got {short_repr(metadata)}")
    unknown = [k for k in metadata if k not in allowed]
    if unknown:
        raise RecipeError(f"recipe.metadata: unknown key(s) {short_repr(unknown)}; allowed keys are {allowed} "
                          "(the name is Recipe.name)")
    check_plain_data(dict(metadata))


def _per_axis(where: str, values: Any, axes: tuple[str, ...], kind: str) -> list[tuple[str, Any]]:
    """(name, value) per axis of ``values``, a tuple of one entry per axis. When every entry is the
    same (a shorthand ``kernel_size: 8``), the name is the field's, else the axis's."""
    if isinstance(values, list) and len(values) == len(axes):
        raise RecipeError(f"{where}: expected a tuple of {len(axes)} (axes {list(axes)}), got the list "
                          f"{short_repr(values)}; in Python the per-axis fields are tuples")
    if not isinstance(values, tuple) or len(values) != len(axes):
        shown = list(values) if isinstance(values, (list, tuple)) else values
        count = f" with {len(values)} entries" if isinstance(values, (list, tuple)) else ""
        raise RecipeError(f"{where}: expected one {kind} or a list of {len(axes)} (axes {list(axes)}; "
                          f"a tuple in Python), got {short_repr(shown)}{count}")
    same = len({repr(v) for v in values}) == 1
    return [(where if same else f"{where}[{axis}] ({axes[axis]})", value) for axis, value in enumerate(values)]
