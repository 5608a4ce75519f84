"""``re:`` layer rules run on RE2: linear time on hostile patterns, Python ``re``'s answers on
ordinary ones, and a pattern RE2 cannot run is refused when the recipe is built, not mid-patch."""

from __future__ import annotations

import dataclasses
import pickle
import re
import textwrap

import pytest

from helpers.bounded import run_bounded_code
from na_accel import RecipeError, load_recipe
from na_accel.recipe.model import LayerRule, Recipe
from helpers.sample_recipes import base_recipe, window

# The re: patterns in the README, tests/test_plan.py, tests/test_patching.py and tests/recipe/ (the
# shipped recipes use globs only), and a few more of the same kind.
ORDINARY_PATTERNS = [
    r"single_transformer_blocks\.[0-9]+\.attn",
    r"single_transformer_blocks\.1\.attn",
    r"single_transformer_blocks\.1\..*",
    r"transformer_blocks\.0\..*",
    r"blocks.*",
    r"a.*",
    r".*",
    r"single",
    r"(transformer_blocks|single_transformer_blocks)\.(0|1|2)\.attn[12]?",
    r"transformer_blocks\.[0-9]{1,2}\.attn",
    r"blocks\.\d+\.attn\d?",
    r"(?i)TRANSFORMER_blocks\.\d+\.attn",
    r"[^.]+\.[13579]\.attn",
    r".*\.attn$",
    r"^blocks\.\d+\.attn",
    r"\w+\.\d+\.\w+",
]
LAYER_NAMES = [
    "transformer_blocks.0.attn", "transformer_blocks.0.attn2", "transformer_blocks.13.attn",
    "transformer_blocks.0.attn.processor", "single_transformer_blocks.1.attn", "single_transformer_blocks.37.attn",
    "single_transformer_blocks.1.attn.to_q", "blocks.0.attn1", "blocks.29.attn2", "blocks.3.attn",
    "TRANSFORMER_BLOCKS.2.ATTN", "a", "", "blocksXYZ", "single", "x.attn\n",
]


@pytest.mark.parametrize("pattern", ORDINARY_PATTERNS)
def test_re2_answers_like_python_re_on_ordinary_patterns(pattern):
    rule = LayerRule(f"re:{pattern}", None)
    for name in LAYER_NAMES:
        assert rule.matches(name) == (re.fullmatch(pattern, name) is not None), name


PATHOLOGICAL = [r"(.|.)*Z", r"(\w+\.?)+Z", r"((.)*)*Z"]


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
def test_pathological_patterns_match_in_bounded_time(pattern):
    # With Python's re each of these backtracks 2**40 ways on a 40-character name that does not
    # end in Z: this child ran past its limit before the rules ran on RE2.
    code = textwrap.dedent(f"""
        from na_accel import load_recipe
        recipe = load_recipe({{"model": "flux", "default": {{"kernel_size": 8}},
                              "layers": [{{"match": {"re:" + pattern!r}, "dense": True}}]}})
        no = "a" * 40
        yes = "a" * 39 + "Z"
        print(recipe.setting_for(no).source, "|", recipe.setting_for(yes).source)
    """)
    result = run_bounded_code(code, seconds=60)
    assert result.returncode == 0, result.stderr
    # Every one of them means "any name ending in Z" on names of word characters.
    assert result.stdout.split("|")[0].strip() == "default"
    assert "layers[0]" in result.stdout.split("|")[1]


@pytest.mark.parametrize("pattern, reason", [
    (r"(a)\1", "invalid escape sequence"),  # a backreference
    (r"(?=a)a", "invalid perl operator"),  # lookahead
    (r"(?<!a)b", "invalid perl operator"),  # lookbehind
    (r"single_(", "missing )"),
])
def test_a_pattern_re2_cannot_run_is_refused_at_load_time(pattern, reason):
    # (kernel_size 64: not below the default's stride 16, the rule's only problem is its pattern)
    data = base_recipe(layers=[{"match": "x", "dense": True}, {"match": f"re:{pattern}", "kernel_size": 64}])
    with pytest.raises(RecipeError) as loaded:
        load_recipe(data)
    message = str(loaded.value)
    assert message.startswith("recipe.layers[1].match: invalid regex ")
    assert repr(pattern)[1:-1] in message and reason in message and "RE2 syntax" in message
    assert "no backreferences or lookaround" in message
    # Built in Python (or replaced), the same error, before any layer is matched.
    fields = {"model": "flux", "dense_steps": 0, "default": window((8, 8))}
    with pytest.raises(RecipeError) as built:
        Recipe(**fields, layers=(LayerRule("x", None), LayerRule(f"re:{pattern}", None)))
    assert str(built.value) == message
    with pytest.raises(RecipeError):
        dataclasses.replace(Recipe(**fields), layers=(LayerRule(f"re:{pattern}", None),))


def test_a_bare_layer_rule_with_a_bad_pattern_raises_a_recipe_error_when_matched():
    with pytest.raises(RecipeError, match=r"layers\[0\] \(match 're:\(a\)\\\\1'\).*RE2 syntax"):
        LayerRule(r"re:(a)\1", None).matches("aa")


def test_layer_rules_stay_hashable_and_picklable():
    rule = LayerRule(r"re:blocks\.\d+", window((8, 8)))
    assert rule.matches("blocks.3")  # compiled (and cached) before pickling
    copy = pickle.loads(pickle.dumps(rule))
    assert copy == rule and hash(copy) == hash(rule) and copy.matches("blocks.3")
    recipe = load_recipe(base_recipe(layers=[{"match": r"re:blocks\.\d+", "kernel_size": 32}]))
    assert pickle.loads(pickle.dumps(recipe)) == recipe
