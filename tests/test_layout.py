"""The house plan holds: layers import downwards only, no import circles, small modules, one meaning per
public name, tests named after their modules.

Layers, lowest first, are stated once in scripts/import_graph.py (``LAYERS``, which also draws the graph that
docs/architecture.md shows): the core (errors ... comfyui: what ``patch`` is, and the ComfyUI front end on the
same route), then the program around it: inputs (what users type: the tiny presets' default prompt is every
command's) < tiny (fixtures) < metrics < outputs (what commands write) < models (names -> runnable models) <
commands (each command's engine) < cli. The core never imports the program, not even inside a function. No
import circles either, counting every import: function-local ones (a deferred import hides a circle, it does
not remove it) and those under ``if TYPE_CHECKING:`` (the modules still depend on each other), but for the
type-only edges listed with their reasons in ``TYPE_ONLY_EDGES``.
"""

import ast
import importlib.util
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "na_accel"

def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, PACKAGE.parent / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IMPORT_GRAPH = _script("import_graph")  # the layers are stated there once, with the drawing of the graph
LAYERS = IMPORT_GRAPH.LAYERS
MAX_LINES = 350


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("na_accel",) + path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path, *, type_checking: bool = True, modules: dict[str, Path] = MODULES) -> set[str]:
    """na_accel modules that ``name`` imports anywhere in its file, function-local imports included (``from x
    import y`` counts x.y when it is a module); ``type_checking=False`` leaves out the imports under ``if
    TYPE_CHECKING:``, which never run."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _nodes(tree, type_checking):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


TYPE_CHECKING_TESTS = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def _nodes(tree: ast.AST, type_checking: bool):
    """Every node of ``tree``; without the bodies of ``if TYPE_CHECKING:`` unless ``type_checking``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if not type_checking and isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING_TESTS:
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


@pytest.mark.parametrize("module", [m for m in MODULES if _layer(m)])
def test_a_module_imports_only_its_own_layer_and_those_below(module):
    own = LAYERS.index(_layer(module))
    upward = sorted(m for m in _imports(module, MODULES[module])
                    if _layer(m) and LAYERS.index(_layer(m)) > own)
    assert not upward, f"{module} imports from higher layers: {upward}"


def test_no_module_imports_the_package_face():
    """``na_accel/__init__.py`` is the users' door: the modules inside never import it (``from .. import
    x``), so the face can import any of them without a circle."""
    importers = sorted(m for m, p in MODULES.items() if m != "na_accel" and "na_accel" in _imports(m, p))
    assert not importers, f"import the package face: {importers}"


def _import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules it imports anywhere: top-level, inside a function (a deferred import hides a
    circle, it does not remove it) or under ``if TYPE_CHECKING:``."""
    graph = {m: _imports(m, p, modules=modules) for m, p in modules.items()}
    # a module's package __init__ runs before it: importing a.b.c imports a.b too
    for module in list(graph):
        graph[module] |= {p for p in (module.rsplit(".", i)[0] for i in range(1, module.count("."))) if p in modules}
        graph[module].discard(module)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles = []
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + "."):
                continue  # a package importing its own submodules is how packages are built
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


# The circles allowed, each as its one edge that imports under ``if TYPE_CHECKING:`` only (never run), and why.
TYPE_ONLY_EDGES = {
    ("na_accel.comfyui.attention", "na_accel.comfyui.patch"):
        "the override a ComfyPatch installs holds that patch (patch.py finds it there) and names its type",
    ("na_accel.kernels.window_cost", "na_accel.kernels.tile_model"):
        "estimate_window takes a TileShape and names its type; a tile model prices a window with estimate_window",
}


def test_there_are_no_import_circles():
    graph = _import_graph(MODULES)
    for (module, imported), why in TYPE_ONLY_EDGES.items():
        assert imported in graph[module], f"{module} no longer imports {imported}: drop the exception ({why})"
        assert imported not in _imports(module, MODULES[module], type_checking=False), (
            f"{module} imports {imported} outside `if TYPE_CHECKING:` now: a circle ({why})")
        graph[module].discard(imported)
    cycles = _circles(graph)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_circle_check_sees_function_local_and_type_checking_imports(tmp_path):
    files = {
        "__init__": "",
        "a": "from .b import helper\n",
        "b": "def helper():\n    from .a import thing  # deferred, and still a circle\n",
        "c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\n",
        "d": "from .c import C\n",
        "e": "from .a import thing\n",  # one way: no circle
    }
    modules = {}
    for stem, text in files.items():
        (tmp_path / f"{stem}.py").write_text(text)
        modules["pkg" if stem == "__init__" else f"pkg.{stem}"] = tmp_path / f"{stem}.py"
    assert _circles(_import_graph(modules)) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.c", "pkg.d", "pkg.c"]]
    assert _imports("pkg.c", modules["pkg.c"], type_checking=False, modules=modules) == set()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_the_size_limit(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (limit {MAX_LINES}): split it by job"


# A public module-level name means one thing. The names below are protocols: each module of a kind
# defines its own (a subcommand's ``add_parser`` / ``run``, a family's ``adapter``, ...), looked up by
# module, never imported side by side.
PROTOCOL_NAMES = {
    "add_parser": "cli/<subcommand>.py: the subcommand's parser (cli/main.py registers the modules)",
    "run": "cli/<subcommand>.py: the subcommand's work",
    "main": "a script's entry point (na-accel, python -m na_accel.models.coverage, the shapes trainer)",
    "adapter": "families/<family>.py: the family's declaration, named by FamilySpec.adapter_path",
    "transformer_inputs": "families/<family>_spec.py: the FamilySpec field of that name",
    "attention_shape": "the FamilySpec / ComfyFamily field of that name, where a family's differs from the default",
    "image_ids": "families/flux2_spec.py, flux3_spec.py: that pipeline's own image position ids",
    "text_ids": "families/flux2_spec.py, flux3_spec.py: that pipeline's own text position ids",
    "token_layout": "comfyui/families/<family>.py: the ComfyFamily field of that name",
}


def _public_definitions() -> dict[str, list[str]]:
    """Public module-level functions, classes and constants -> the modules defining them."""
    found: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            for name in names:
                if not name.startswith("_") and name != "NAME":  # NAME: each subcommand's, as add_parser
                    found.setdefault(name, []).append(module)
    return found


def test_a_public_name_is_defined_once():
    twice = {name: modules for name, modules in _public_definitions().items()
             if len(modules) > 1 and name not in PROTOCOL_NAMES}
    assert not twice, f"one name, several meanings (rename, or list a protocol in PROTOCOL_NAMES): {twice}"


def test_every_protocol_name_is_still_defined_in_several_modules():
    definitions = _public_definitions()
    assert sorted(n for n in PROTOCOL_NAMES if len(definitions.get(n, [])) < 2) == []


# --- tests you can find ----------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent
# Folders whose test files are not about one module: whole pipelines (integration/), the docs pages
# (docs/), what several files share (helpers/), the scripts under eval/ (they mirror eval/, not na_accel).
NOT_MIRRORED = {"integration", "docs", "helpers", "eval"}
# Test files about the project rather than a module, and why.
PROJECT_TESTS = {
    "test_layout.py": "the house plan: layers, circles, module size, names, where tests are",
    "test_markers.py": "the slow / integration markers select what docs/testing.md says",
    "test_packaging.py": "what the wheel ships and what a fresh install runs",
}


def _module_of_test(path: Path) -> str | None:
    """The na_accel module (or package) a test file is about: tests/<package>/test_<module>[_<aspect>].py
    names na_accel/<package>/<module>.py (a leading underscore dropped), or the package itself."""
    relative = path.relative_to(TESTS)
    words = relative.stem[len("test_"):].split("_")
    for end in range(len(words), 0, -1):
        name = "_".join(words[:end])
        folder = PACKAGE.joinpath(*relative.parent.parts)
        for candidate in (folder / f"{name}.py", folder / f"_{name}.py", folder / name / "__init__.py"):
            if candidate.is_file():
                return str(candidate.relative_to(PACKAGE.parent))
        if relative.parent.parts and relative.parent.parts[-1] == name and (folder / "__init__.py").is_file():
            return str((folder / "__init__.py").relative_to(PACKAGE.parent))
    return None


def test_every_test_file_names_the_module_it_tests():
    """tests/ mirrors the package: from a module you find its tests (tests/<package>/test_<module>*.py),
    from a test file its module."""
    orphans = sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("test_*.py")
                     if p.relative_to(TESTS).parts[0] not in NOT_MIRRORED
                     and str(p.relative_to(TESTS)) not in PROJECT_TESTS and _module_of_test(p) is None)
    assert orphans == [], "name each after its module (test_<module>[_<aspect>].py): " + ", ".join(orphans)


def test_the_test_file_rule_finds_modules_and_packages():
    assert _module_of_test(TESTS / "recipe" / "test_model_identity.py") == "na_accel/recipe/model.py"
    assert _module_of_test(TESTS / "tiny" / "test_requirements.py") == "na_accel/tiny/_requirements.py"
    assert _module_of_test(TESTS / "tiny" / "test_tiny_pipelines.py") == "na_accel/tiny/__init__.py"
    assert _module_of_test(TESTS / "test_patching_copies.py") == "na_accel/patching.py"
    assert _module_of_test(TESTS / "kernels" / "test_no_such_module.py") is None


def test_shared_test_helpers_live_in_helpers_not_in_a_conftest():
    """A helper is imported by name from tests/helpers/ (``from helpers.x import y``, never ``tests.x`` nor
    another test file); a conftest holds fixtures and hooks, never something a test file imports."""
    importers = sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                       if any(isinstance(node, ast.ImportFrom) and ((node.module or "").split(".")[-1] == "conftest"
                                                                    or (node.module or "").split(".")[0] == "tests"
                                                                    or (node.module or "").startswith("test_"))
                              for node in ast.walk(ast.parse(p.read_text()))))
    assert importers == []
    loose = sorted(p.name for p in TESTS.glob("*.py") if not p.name.startswith("test_") and p.name != "conftest.py")
    assert loose == [], f"helpers go to tests/helpers/: {loose}"


def test_the_architecture_page_shows_the_current_import_graph():
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    shown = page.split("<!-- import-graph:begin -->\n```text\n", 1)[1].split("```\n<!-- import-graph:end -->", 1)[0]
    assert shown == IMPORT_GRAPH.drawing() + "\n", "run python scripts/import_graph.py and paste its output"
