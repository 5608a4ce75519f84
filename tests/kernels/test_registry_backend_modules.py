"""A backend is one module (issue #38): nothing outside a backend's own modules tells backends apart by
name, and registering one instance adds a backend everywhere (tiles, estimates, messages).

The source check walks every na_accel module with ``ast`` and flags a string constant equal to a
registered backend's name, or a module-level constant that holds one (``REFERENCE``), where it is
compared (``==``, ``!=``, ``in``, ``match``) or used as a key to look something up
(``mapping["name"]``, ``.get("name")``), outside the modules that define the backend's class and its
tile model. Naming a backend elsewhere (a registration, a default, a message) is fine: it is
branching on the name that is not.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import torch

import na_accel
from na_accel.kernels import BACKENDS, Backend, BackendTarget, registry, resolve_backend
from na_accel.kernels.tile_model import TileModel, WindowWork
from na_accel.kernels.tiles import check_tile_backend, tile_options
from na_accel.speed.problem import AttentionProblem, sparse_work
from na_accel.windows import WindowSpec

PACKAGE = Path(na_accel.__file__).resolve().parent
LOOKUPS = ("get", "pop", "setdefault")

# Comparisons with a backend's name allowed outside its own modules, each with why: (path relative
# to na_accel/, the name, the line's source stripped) -> reason. None today: the CLI's help, the
# registry's docstring and registrations, DEFAULT_TILE_BACKEND and the docs name backends without
# comparing. A stale entry fails the test too.
ALLOWED: dict[tuple[str, str, str], str] = {}


def _module_path(obj) -> str:
    return str(Path(sys.modules[type(obj).__module__].__file__).resolve().relative_to(PACKAGE))


def _own_modules() -> dict[str, set[str]]:
    """Per backend name: its class's module and its tile model's module."""
    return {name: {_module_path(b)} | ({_module_path(b.tiles)} if b.tiles is not None else set())
            for name, b in BACKENDS.items()}


def _constants(trees, names) -> dict[str, str]:
    """Module-level ``NAME = "<a backend's name>"`` across ``trees``: identifier -> the name it holds."""
    found = {}
    for tree in trees:
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in names):
                found.update((target.id, node.value.value) for target in node.targets if isinstance(target, ast.Name))
    return found


def _names_in(node: ast.AST, constants: dict[str, str]) -> list[str]:
    """Strings directly in ``node`` or in the tuple / list / set literal it is: constants, and the
    value of an identifier in ``constants`` (``REFERENCE``, ``kernels.REFERENCE``)."""
    items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    out = []
    for item in items:
        if isinstance(item, ast.Constant) and isinstance(item.value, str):
            out.append(item.value)
        identifier = item.id if isinstance(item, ast.Name) else item.attr if isinstance(item, ast.Attribute) else None
        if identifier in constants:
            out.append(constants[identifier])
    return out


def _branches(tree: ast.AST, constants: dict[str, str] | None = None):
    """(line, string) for every string compared with or looked up by."""
    constants = constants or {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                yield from ((node.lineno, s) for s in _names_in(operand, constants))
        elif isinstance(node, ast.Subscript):
            yield from ((node.lineno, s) for s in _names_in(node.slice, constants))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOOKUPS
              and node.args):
            yield from ((node.lineno, s) for s in _names_in(node.args[0], constants))
        elif isinstance(node, ast.MatchValue):
            yield from ((node.lineno, s) for s in _names_in(node.value, constants))


def _violations() -> tuple[list[str], set[tuple[str, str, str]]]:
    own = _own_modules()
    sources = {str(path.relative_to(PACKAGE)): path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}
    trees = {relative: ast.parse(source) for relative, source in sources.items()}
    constants = _constants(trees.values(), own)
    found, used = [], set()
    for relative, tree in trees.items():
        lines = sources[relative].splitlines()
        for line, name in _branches(tree, constants):
            if name not in own or relative in own[name]:
                continue
            key = (relative, name, lines[line - 1].strip())
            if key in ALLOWED:
                used.add(key)
            else:
                found.append(f"na_accel/{relative}:{line} branches on backend {name!r}: {key[2]}")
    return found, used


def test_no_module_branches_on_a_backend_name_outside_the_backends_own_modules():
    found, used = _violations()
    assert not found, ("ask the backend object (its traits, its tile model) instead of comparing its name:\n"
                       + "\n".join(found))
    assert used == set(ALLOWED), f"allowed exceptions no longer needed: {sorted(set(ALLOWED) - used)}"


def test_the_check_finds_a_branch_on_a_name_or_on_a_constant_holding_one():
    tree = ast.parse('if backend == "hopper-fna" or name in ("triton", "x"):\n    table["flex-fna"]\n'
                     'reasons.get("reference")\nif b.name != kernels.REFERENCE: pass\nwhere = "triton"\n')
    constants = _constants([ast.parse('REFERENCE = "reference"\nOTHER = "x"\n')], set(BACKENDS))
    assert constants == {"REFERENCE": "reference"}
    assert sorted(name for _, name in _branches(tree, constants)) == [
        "flex-fna", "hopper-fna", "reference", "reference", "triton", "x"]


def test_every_backends_own_modules_are_in_the_package():
    for name, modules in _own_modules().items():
        assert modules and all((PACKAGE / m).is_file() for m in modules), name


# --------------------------------------------------------------------------------------------
# Registering one instance adds a backend: its tiles, work, install hint reach every user
# --------------------------------------------------------------------------------------------


class _SquareTiles(TileModel):
    def table(self, rank, head_dim, dtype_bits):
        return [((4,) * rank, (4,) * rank)], "a test table"

    def window_work(self, window, other_keys, *, head_dim, element_size, shared_memory=None, capability=None):
        return WindowWork(1.0, 2.0, 3)


class _Squares(Backend):
    def __init__(self):
        self.name = "squares"
        self.tiles = _SquareTiles(self.name)
        self.install_hint = "'squares' needs a square GPU"

    def unavailable_reason(self, target):
        return "no square GPU here"

    def visual_attention(self, query, key, value, call):
        return query


@pytest.fixture
def squares(scratch_registry):
    return scratch_registry.register_backend(_Squares(), auto_gpu_rank=99)


def test_a_registered_backend_brings_its_tiles_work_and_install_hint(squares):
    check_tile_backend("squares")
    option = tile_options("squares", 2)[0]
    assert (option.q_tile, option.kv_tile, option.backend) == ((4, 4), (4, 4), "squares")
    assert squares.tile_backend == "squares"

    window = WindowSpec((3, 3), (1, 1), (1, 1), (False, False)).resolve((16, 16))
    work = sparse_work(AttentionProblem((window,), text_len=0, batch=1, heads=1, head_dim=8), "squares")
    assert (work.full_flops, work.partial_flops, work.programs) == (32.0, 64.0, 3)  # 4 * head_dim per score

    cuda = BackendTarget(torch.device("cuda"), torch.bfloat16, head_dim=128, grid_rank=2)
    with pytest.raises(na_accel.BackendUnavailableError) as info:
        resolve_backend("squares", cuda, reasons={name: "not here" for name in registry.BACKENDS})
    assert "'squares' needs a square GPU" in str(info.value)
