"""docs/python-api.md tells the truth about the public API.

- every function signature the page shows (an inline ```na_accel.NAME(...)``` outside code blocks;
  docs/tune.md's full ``na_accel.tune`` signature too) has the real object's parameter names, in its
  order, the keyword-only ``*`` where the real one has it, and the same defaults (a parameter shown
  without a default has none; one with a default shows the real value);
- every error type the page names is exported by ``na_accel``.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from pathlib import Path

import pytest

import na_accel

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
# `na_accel.name(params)` or `na_accel.name(params) -> return`, in one inline code span (which may wrap lines)
SIGNATURE = re.compile(r"`na_accel\.(\w+)\(([^`]*?)\)(\s*->\s*[^`]+)?`")
PUBLIC_FUNCTIONS = {"patch", "unpatch", "describe", "load_recipe", "list_recipes", "estimate_recipe", "tune"}


def shown_signatures(path: Path, with_return_only: bool = False) -> list[tuple[str, str, int]]:
    """(name, parameter text, line) of every inline ``na_accel.NAME(...)`` span outside code blocks."""
    text = path.read_text()
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)  # keep line numbers
    found = []
    for match in SIGNATURE.finditer(prose):
        if with_return_only and not match.group(3):
            continue
        found.append((match.group(1), " ".join(match.group(2).split()), prose.count("\n", 0, match.start()) + 1))
    return found


def parse_parameters(text: str) -> list[tuple[str, str, object]]:
    """(name, kind, default or inspect.Parameter.empty) of a shown parameter list, via ``def f(...)``."""
    args = ast.parse(f"def f({text}): pass").body[0].args
    assert not args.posonlyargs and args.vararg is None and args.kwarg is None, text
    positional = [(a.arg, "positional") for a in args.args]
    defaults = [inspect.Parameter.empty] * (len(args.args) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults]
    keyword = [(a.arg, "keyword-only") for a in args.kwonlyargs]
    kw_defaults = [inspect.Parameter.empty if d is None else ast.literal_eval(d) for d in args.kw_defaults]
    return [(n, k, d) for (n, k), d in zip(positional + keyword, defaults + kw_defaults)]


def real_parameters(function) -> list[tuple[str, str, object]]:
    kinds = {inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional", inspect.Parameter.KEYWORD_ONLY: "keyword-only"}
    out = []
    for p in inspect.signature(function).parameters.values():
        assert p.kind in kinds, f"{function.__name__}: {p} is neither positional-or-keyword nor keyword-only"
        default = p.default
        if isinstance(default, tuple):  # ast.literal_eval reads a shown tuple as a tuple
            default = tuple(default)
        out.append((p.name, kinds[p.kind], default))
    return out


def signature_cases():
    cases = [(DOCS / "python-api.md", *s) for s in shown_signatures(DOCS / "python-api.md")]
    cases += [(DOCS / "tune.md", *s) for s in shown_signatures(DOCS / "tune.md", with_return_only=True)]
    return [pytest.param(*case, id=f"{case[0].stem}:{case[3]}:{case[1]}") for case in cases]


def test_the_page_shows_every_public_function():
    assert {name for name, _, _ in shown_signatures(DOCS / "python-api.md")} >= PUBLIC_FUNCTIONS
    assert any(name == "tune" for name, _, _ in shown_signatures(DOCS / "tune.md", with_return_only=True))


@pytest.mark.parametrize("path, name, params, line", signature_cases())
def test_a_shown_signature_is_the_real_one(path, name, params, line):
    where = f"{path.name}:{line}: na_accel.{name}({params})"
    assert hasattr(na_accel, name), f"{where}: na_accel has no {name}"
    try:
        shown = parse_parameters(params)
    except SyntaxError as error:  # e.g. `load_recipe(name | path | dict)`: a description, not a signature
        pytest.fail(f"{where}: not a Python parameter list ({error.msg})")
    real = real_parameters(getattr(na_accel, name))
    assert [n for n, _, _ in shown] == [n for n, _, _ in real], f"{where}: parameter names or order"
    for (n, kind, default), (_, real_kind, real_default) in zip(shown, real):
        assert kind == real_kind, f"{where}: {n} is {real_kind} (the `*` marker)"
        assert default == real_default, f"{where}: {n}'s default is {real_default!r}, the page shows {default!r}"


def test_the_checker_catches_a_wrong_signature():
    real = real_parameters(na_accel.tune)
    assert parse_parameters("pipe, recipe, *, max_error") != real  # missing parameters
    assert parse_parameters("pipe, recipe, max_error") != real[:3]  # no `*`
    patch = real_parameters(na_accel.patch)
    assert parse_parameters('obj, recipe, *, backend="auto", scheduler=None') == patch
    assert parse_parameters('obj, recipe, *, backend="cuda", scheduler=None') != patch  # a wrong default
    with pytest.raises(SyntaxError):
        parse_parameters("name | path | dict")


def test_every_error_the_page_names_is_exported():
    text = (DOCS / "python-api.md").read_text()
    errors = set(re.findall(r"`(\w+Error)`", text)) - set(dir(builtins))  # not `ValueError`
    assert {"NaAccelError", "RecipeError", "CostProfileError", "ArgumentError"} <= errors
    for name in errors:
        assert name in na_accel.__all__, f"docs/python-api.md names {name}; na_accel does not export it"
        exported = getattr(na_accel, name)
        assert issubclass(exported, na_accel.NaAccelError)
        assert exported is getattr(__import__("na_accel.errors", fromlist=[name]), name)
