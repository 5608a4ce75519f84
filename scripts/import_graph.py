"""The package's import graph, one line per room (package or top module), lowest layer first:
what it imports from the other rooms, function-local imports included. docs/architecture.md shows
this output (tests/test_layout.py checks that it is the current one):

    python scripts/import_graph.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "na_accel"
# The layers of tests/test_layout.py, lowest first (a room imports only those before it).
LAYERS = ["errors", "version", "lazy", "windows", "kernels", "families", "recipe", "plan", "speed", "runtime",
          "pipeline_parts", "patching", "patch_report", "tuning", "comfyui", "inputs", "tiny", "metrics", "outputs",
          "models", "commands", "cli"]


def room(module: str) -> str:
    """na_accel.kernels.registry -> kernels; na_accel.plan -> plan; the face (na_accel) -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path, module: str) -> set[str]:
    """The na_accel modules ``module`` imports anywhere in its file (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            found.update(f"{base}.{alias.name}" for alias in node.names)
            found.add(base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "na_accel" or m.startswith("na_accel.")}


def room_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("na_accel",) + path.relative_to(PACKAGE).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        source = room(module)
        targets = {room(m) for m in imports(path, module) if m != "na_accel"}
        graph.setdefault(source, set()).update(t for t in targets if t != source and t in LAYERS)
    return graph


def drawing() -> str:
    graph = room_graph()
    order = [r for r in LAYERS if r in graph] + sorted(r for r in graph if r not in LAYERS)
    width = max(map(len, order))
    lines = []
    for name in order:
        below = sorted(graph[name], key=LAYERS.index)
        lines.append(f"{name:<{width}}  <- " + (" ".join(below) if below else "(nothing of na_accel)"))
    return "\n".join(reversed(lines))  # the top of the house first


def main() -> int:
    sys.stdout.write(drawing() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
