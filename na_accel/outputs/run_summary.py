"""What bench and compare both report about a patched run: recipe, backend and layer-call counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..recipe.model import Recipe


def no_sparse_reason(recipe: Recipe, steps: int) -> str:
    """Why a patched run had no sparse attention call (bench then reports no speedup, compare equal outputs)."""
    if recipe.dense_step_count(steps) >= steps:
        final = f" and the last {recipe.dense_final_steps}" if recipe.dense_final_steps else ""
        return (
            f"no attention call ran sparse: the recipe keeps the first {recipe.dense_steps}{final} steps dense and "
            f"the run has {steps}; use more --steps (or a recipe with fewer "
            + ("dense_steps / dense_final_steps)" if recipe.dense_final_steps else "dense_steps)")
        )
    return "no attention call ran sparse (see dense_by_reason: full windows or fallbacks)"


def patch_summary(recipe: Recipe, report, backend: str, runs: int, totals: Counter | None = None) -> dict[str, Any]:
    """Recipe, backend (requested / resolved / actually used, from ``describe``'s ``report``) and
    layer-call counts: ``totals`` when given (summed over several patches), else the report's."""
    if totals is None:
        totals = sum((Counter(t.totals) for t in report.transformers), Counter())
    dense_calls = {k[len("dense: "):]: v for k, v in totals.items() if k.startswith("dense: ")}
    return {
        "recipe": {"name": recipe.name or "<inline>", "hash": recipe.hash, "dense_steps": recipe.dense_steps,
                   "dense_final_steps": recipe.dense_final_steps, "loaded_from": recipe.source},
        "backend": {
            "requested": backend,
            "resolved": [t.backend for t in report.transformers],
            "used": {t.attribute: t.backends_used for t in report.transformers},
            "passed_over": {t.attribute: t.backends_passed_over for t in report.transformers},
        },
        "layer_calls": {
            "sparse": totals.get("sparse", 0),
            "full_window": totals.get("full window", 0),
            "dense": sum(dense_calls.values()),
            "dense_by_reason": dense_calls,
            "runs_counted": runs,
        },
    }
