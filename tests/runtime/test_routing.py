"""LayerRoute: an AttentionCall in, a SparseCall or a counted stock call out; its steps in order, the
windows resolved once per key, the counts kept by the route that made them."""

import copy
import warnings
from collections import Counter

import pytest
import torch

import na_accel
from na_accel.families.attention_call import AttentionCall
from na_accel.patching import patches_of
from na_accel.runtime import SPARSE, Outcome

RECIPE = {"model": "flux", "default": {"kernel_size": [3, 3]}}
GRID, TEXT = (4, 6), 8  # the route sees one forward call with this layout (begun by hand below)


@pytest.fixture
def route(flux_transformer):
    na_accel.patch(flux_transformer, RECIPE, backend="reference")
    patch = patches_of(flux_transformer)[0]
    from na_accel.families import TokenLayout

    patch.routing.contexts.begin(TokenLayout(GRID, TEXT, True), None)
    yield next(iter(patch.routes.values()))
    patch.routing.contexts.end()


def call(**fields):
    defaults = dict(seq_len=GRID[0] * GRID[1] + TEXT, batch=1, device=torch.device("cpu"), dtype=torch.float32)
    return AttentionCall(**{**defaults, **fields})


def pending(route) -> Counter:
    route.commit()
    return route.counts


def test_a_call_that_fits_the_layout_runs_gna_with_the_layouts_text(route):
    sparse = route.route(call())
    assert sparse is not None and sparse.call.grids == (GRID,) and sparse.call.text_len == TEXT
    assert sparse.call.text_first and sparse.call.text_valid_lens is None
    assert sparse.backend.name == "reference" and sparse.ulysses is None
    assert pending(route) == Counter({SPARSE: 1})


def test_the_first_failing_check_is_the_reason_counted(route):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a foreign mask and a sequence the layout doesn't describe: the mask check comes first
        assert route.route(call(foreign_mask=True, seq_len=5)) is None
        assert route.route(call(seq_len=5)) is None
        assert route.route(call(parallel_config=object())) is None  # context parallelism, no Ulysses path
    assert pending(route) == Counter({
        Outcome.dense("an attention_mask was passed that the GNA path can't honour"): 1,
        Outcome.dense(f"sequence of 5 tokens does not match grid {GRID} + {TEXT} text tokens"): 1,
        Outcome.dense("context parallelism shards the sequence (this family has no Ulysses path)"): 1,
    })


def test_windows_resolve_once_per_key(route, monkeypatch):
    resolved = []
    original = route._resolve
    monkeypatch.setattr(route, "_resolve", lambda key, c: resolved.append(key) or original(key, c))
    for _ in range(3):
        route.route(call())
    route.route(call(dtype=torch.float64))  # another dtype: another key
    assert len(resolved) == 2 and route.windows.last.dtype == torch.float64


def test_counts_live_with_the_route_and_a_copy_starts_empty(route):
    route.route(call())
    assert route.counts == Counter()  # not committed yet: the forward has not ended
    route.commit()
    twin = copy.deepcopy(route)
    assert route.counts == Counter({SPARSE: 1}) and twin.counts == Counter() and twin.windows.last is None
