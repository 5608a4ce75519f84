"""``recipe.dense_final_steps``: the last N denoising steps run dense, next to ``dense_steps``.

Counted per layer with the reason, shown by ``describe``, costed by ``estimate``, refused where no
scheduler tells the step, and it leaves recipes without it (and their hashes) as they were.
"""

import pytest
import torch

import na_accel
from na_accel import load_recipe
from na_accel.errors import RecipeError
from na_accel.commands.estimate import estimate_recipe
from helpers.flux_runs import run_flux_pipe
from helpers.sample_recipes import window_recipe


def test_rule_by_step_index():
    recipe = load_recipe(window_recipe(3, dense_steps=1, dense_final_steps=2))
    reasons = [recipe.dense_step_reason(step, 5) for step in range(5)]
    assert [r is None for r in reasons] == [False, True, True, False, False]
    assert reasons[0].startswith("dense step") and reasons[3].startswith("dense final step")
    assert recipe.dense_step_reason(4, None) is None  # unknown schedule length: only dense_steps applies
    assert [recipe.dense_step_count(n) for n in (1, 2, 3, 5, 8)] == [1, 2, 3, 3, 3]


def test_absent_field_keeps_recipes_and_hashes():
    plain = load_recipe(window_recipe(3, dense_steps=1))
    explicit = load_recipe(window_recipe(3, dense_steps=1, dense_final_steps=0))
    final = load_recipe(window_recipe(3, dense_steps=1, dense_final_steps=2))
    assert plain.dense_final_steps == 0 and final.dense_final_steps == 2
    assert final.hash != plain.hash  # behaviour changed, so the hash did
    assert load_recipe(final.to_dict()) == final
    assert explicit.dense_final_steps == plain.dense_final_steps


def test_pipeline_runs_the_last_steps_dense_and_counts_them(flux_pipe):
    na_accel.patch(flux_pipe, window_recipe([3, 4], stride=[2, 3], dense_steps=1, dense_final_steps=2))
    run_flux_pipe(flux_pipe, steps=5, batch=1, cfg=True)
    report = na_accel.describe(flux_pipe).transformers[0]
    for layer in report.layers:  # 5 steps x 2 CFG calls: steps 0, 3, 4 dense, steps 1, 2 sparse
        assert layer.sparse_calls == 4
        assert layer.dense_calls == {
            "dense step (step < dense_steps=1)": 2,
            "dense final step (one of the last dense_final_steps=2 of 5)": 4,
        }
    assert report.dense_final_steps == 2
    assert "dense_final_steps=2" in str(na_accel.describe(flux_pipe))


def test_all_steps_dense_reproduces_stock_exactly(flux_pipe):
    stock = run_flux_pipe(flux_pipe, steps=3, batch=1, cfg=False)
    na_accel.patch(flux_pipe, window_recipe([2, 2], dense_steps=1, dense_final_steps=2))
    assert torch.equal(run_flux_pipe(flux_pipe, steps=3, batch=1, cfg=False), stock)
    assert na_accel.describe(flux_pipe).transformers[0].totals.get("sparse", 0) == 0


def test_a_bare_transformer_is_refused_naming_the_field(flux_transformer):
    before = dict(flux_transformer.attn_processors)
    with pytest.raises(RecipeError, match=r"recipe\.dense_final_steps: 2 needs the denoising step"):
        na_accel.patch(flux_transformer, window_recipe(3, dense_final_steps=2))
    assert flux_transformer.attn_processors == before  # nothing changed


def test_estimate_counts_the_final_steps_dense():
    plain = estimate_recipe(window_recipe([8, 8]), model="flux", height=512, width=512, steps=10)
    final = estimate_recipe(window_recipe([8, 8], dense_final_steps=3), model="flux", height=512, width=512, steps=10)
    assert (plain.dense_steps, final.dense_steps) == (0, 3)
    assert final.attention_speedup < plain.attention_speedup
