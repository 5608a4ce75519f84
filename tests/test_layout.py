"""The house plan holds: layers import downwards only, no import circles, small modules.

Layers, lowest first: errors, lazy (package exports on first use) < windows < kernels < families < recipe
< plan < speed < runtime < patching < patch_report < tuning < comfyui (the ComfyUI front end, on the same
route as patching), then tiny (fixtures), tools and cli. The core (everything below tiny) never imports tiny, tools or
cli, not even inside a function.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "na_accel"
LAYERS = ["errors", "lazy", "windows", "kernels", "families", "recipe", "plan", "speed", "runtime", "patching", "patch_report", "tuning",
          "comfyui", "tiny", "tools", "cli"]
MAX_LINES = 350


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("na_accel",) + path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path, top_level_only: bool) -> set[str]:
    """na_accel modules that ``name`` imports (``from x import y`` counts x.y when it is a module)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


@pytest.mark.parametrize("module", [m for m in MODULES if _layer(m)])
def test_a_module_imports_only_its_own_layer_and_those_below(module):
    own = LAYERS.index(_layer(module))
    upward = sorted(m for m in _imports(module, MODULES[module], top_level_only=False)
                    if _layer(m) and LAYERS.index(_layer(m)) > own)
    assert not upward, f"{module} imports from higher layers: {upward}"


def test_there_are_no_import_circles():
    graph = {m: _imports(m, p, top_level_only=True) for m, p in MODULES.items()}
    # a module's package __init__ runs before it: importing a.b.c imports a.b too
    for module in list(graph):
        graph[module] |= {p for p in (module.rsplit(".", i)[0] for i in range(1, module.count("."))) if p in MODULES}
        graph[module].discard(module)
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
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_the_size_limit(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (limit {MAX_LINES}): split it by job"
