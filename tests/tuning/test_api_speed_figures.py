"""A tune prints one speed figure of its own, under one name and one definition, in the terminal, the
recipe's comment header and description, the HTML report and docs/tune.md (issue #37): no second
figure saying the same thing ("cost 9% of dense" next to "10.83x"), and estimate's figures, shown
after it, under their own names."""

import re
from pathlib import Path

import numpy as np
import yaml

import na_accel
from na_accel.cli.tune import ESTIMATE_HEADER, _summary
from na_accel.tuning.api import TuneResult
from na_accel.tuning.candidates import Candidate
from na_accel.tuning.selection import LayerChoice, LayerErrors, Selection
from na_accel.tuning.tuned_recipe import SPEEDUP_DEFINITION, SPEEDUP_NAME, tuned_recipe
from na_accel.windows import WindowSpec

DOCS = Path(__file__).resolve().parents[2] / "docs"


def flat(text: str) -> str:
    return " ".join(text.split())


def result(cost: float = 0.25) -> TuneResult:
    window = WindowSpec((8, 8), (8, 8), (1, 1), (False, False)).resolve((32, 32))
    candidate = Candidate(window, cost)
    choice = LayerChoice("transformer_blocks.0.attn", candidate, 0.1, (0.1, 0.1))
    selection = Selection(0, 0, 2, (choice,))
    base = na_accel.load_recipe("flux_gna")
    info = {"model": "tiny-flux", "max_error": 0.2, "base_recipe": {"name": "flux_gna", "hash": base.hash}}
    recipe = tuned_recipe(base, ["transformer_blocks.0.attn"], selection, info, {"height": 512, "width": 512},
                          "512x512")
    errors = LayerErrors("transformer_blocks.0.attn", (candidate,), np.asarray([[0.1, 0.1]]))
    return TuneResult(recipe, selection, (errors,), (32, 32), "all 1024 visual query rows of every call")


def test_the_recipe_names_the_figure_once_with_its_definition():
    tuned = result(0.25)
    text = tuned.yaml()
    header = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    assert f"{SPEEDUP_NAME}: 4.00x" in header[0]  # the description, in the first comment line
    assert f"{SPEEDUP_NAME}: {SPEEDUP_DEFINITION}." in header
    assert "attention speed over dense" not in text and "% of dense" not in text
    meta = yaml.safe_load(text)["metadata"]["tune"]
    assert meta["estimated_attention_speedup"] == 4.0
    assert "estimated_attention_cost" not in meta  # the same figure twice (1 / cost): dropped


def summary_dict(tuned: TuneResult) -> dict:
    return {"recipe_file": "t.yaml", "measurements_file": "t.tune.json", "max_error": 0.2,
            **tuned.to_dict(), "unmeasured_layers": {}, "estimate": "ESTIMATE (not a measurement): ..."}


def test_the_terminal_prints_the_figure_once_under_its_name_and_definition():
    out = _summary(summary_dict(result(0.25)))
    assert f"{SPEEDUP_NAME}: 4.00x ({SPEEDUP_DEFINITION})" in out.splitlines()
    assert out.count("4.00x") == 1 and "25%" not in out and "% of dense" not in out
    assert ESTIMATE_HEADER in out.splitlines()  # estimate's figures: named as another quantity


def test_estimate_names_its_figures():
    text = str(na_accel.estimate_recipe("flux_gna", height=1024, width=1024, backend="hopper-fna", device=None))
    line = next(line for line in text.splitlines() if line.startswith("ESTIMATE (not a measurement)"))
    assert re.search(r"attention speed-up bound on hopper-fna tiles \d+\.\d\dx, end-to-end speed-up bound "
                     r"\d+\.\d\dx \(from the tile bounds: upper bounds\)", line), line
    assert "faster" not in line


def test_docs_tune_uses_the_same_words():
    text = flat((DOCS / "tune.md").read_text())
    assert flat(SPEEDUP_DEFINITION) in text
    assert f"{SPEEDUP_NAME}:" in text
    assert "est. attention cost" not in text and "% of dense" not in text
    assert flat(ESTIMATE_HEADER) in text
