"""patch_model / describe_model on ComfyUI's own ModelPatcher and sampler (tiny FLUX).

ComfyUI's clones share one diffusion model: a patched clone must leave the input model (and every
other clone) stock, two patched clones must not see each other's routes or counters, and a bad
request must be refused before anything changes.
"""

from __future__ import annotations

import logging
import threading

import pytest
import torch

from comfyui.cases.base import sample
from comfyui.cases.flux import FLUX
from na_accel.comfyui import describe_model, patch_model, patch_of
from na_accel.comfyui.attention import OVERRIDE_KEY
from na_accel.errors import ArgumentError, PatchStateError, RecipeError, UnsupportedModelError

LAYERS = 4  # the tiny FLUX: 2 double + 2 single blocks
SPARSE = {"model": "flux", "name": "sparse_3", "speed_gate": "sparse", "default": {"kernel_size": [3, 3]}}
WIDER = {"model": "flux", "name": "sparse_5", "speed_gate": "sparse", "default": {"kernel_size": [5, 7]}}



def _sample(comfy, model, **kwargs):
    return sample(comfy, model, FLUX, **kwargs)


def test_the_input_model_stays_stock(comfy, flux):
    stock = _sample(comfy, flux)
    options_before = repr(flux.model_options)
    patched = patch_model(flux, SPARSE, backend="reference")
    assert patched is not flux and patch_of(flux) is None and repr(flux.model_options) == options_before
    assert not torch.equal(_sample(comfy, patched), stock)
    assert torch.equal(_sample(comfy, flux), stock)  # bit for bit, after the patched clone sampled
    blocks = [*flux.model.diffusion_model.double_blocks, *flux.model.diffusion_model.single_blocks]
    assert not any(b._forward_pre_hooks or b._forward_hooks for b in blocks)  # the per-call hooks are gone


def test_two_patched_clones_keep_their_own_routes_and_counts(comfy, flux):
    a, b = patch_model(flux, SPARSE, backend="reference"), patch_model(flux, WIDER, backend="reference")
    alone_a = _sample(comfy, a)
    alone_b = _sample(comfy, b)
    assert not torch.equal(alone_a, alone_b)
    totals_a = dict(patch_of(a).totals())
    assert torch.equal(_sample(comfy, b), alone_b) and torch.equal(_sample(comfy, a), alone_a)  # interleaved
    assert dict(patch_of(a).totals()) == {"sparse": 2 * totals_a["sparse"]}
    assert dict(patch_of(b).totals()) == {"sparse": 2 * totals_a["sparse"]}
    assert {r.windows.last.window.kernel_size for r in patch_of(b).routes.values()} == {(5, 7)}


def _call(model, x, context, y):
    """One call of the diffusion model with ``model``'s options and wrappers, as ComfyUI's sampler
    makes it (ComfyUI samples one prompt at a time; a server embedding the model may not)."""
    options = {**model.model_options["transformer_options"], "wrappers": model.wrappers}
    return model.model.diffusion_model(x, torch.full((x.shape[0],), 0.7), context, y, transformer_options=options)


def test_two_threads_calling_two_clones_at_once(flux):
    """Per-call state lives with the call: each thread's clone runs its own windows and grid."""
    a, b = patch_model(flux, SPARSE, backend="reference"), patch_model(flux, WIDER, backend="reference")
    generator = torch.Generator().manual_seed(1)
    inputs = {"a": (a, torch.randn(2, 16, 20, 28, generator=generator)),  # 10x14 tokens
              "b": (b, torch.randn(1, 16, 12, 18, generator=generator))}  # 6x9 tokens, another batch
    context, y = torch.randn(2, 6, 32, generator=generator), torch.randn(2, 32, generator=generator)

    def run(name):
        model, x = inputs[name]
        return _call(model, x, context[: len(x)], y[: len(x)])

    with torch.no_grad():
        expected = {name: run(name) for name in inputs}
        results, errors = {}, []

        def worker(name):
            try:
                for _ in range(3):
                    results[name] = run(name)
                    assert torch.equal(results[name], expected[name])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(name,)) for name in inputs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert {r.windows.last.window.grid for r in patch_of(b).routes.values()} == {(6, 9)}


def test_a_clone_of_a_patched_clone_is_the_same_patch(comfy, flux):
    patched = patch_model(flux, SPARSE, backend="reference")
    again = patched.clone()  # what every later node (LoRA, sampling options, ...) does
    assert patch_of(again) is patch_of(patched)
    assert torch.equal(_sample(comfy, again), _sample(comfy, patched))
    with pytest.raises(PatchStateError, match="already patched"):
        patch_model(again, SPARSE)


def test_batch_of_two_latents_matches_the_reference(comfy, flux):
    reference = _sample(comfy, patch_model(flux, SPARSE, backend="reference"), batch=2)
    out = _sample(comfy, patch_model(flux, SPARSE, backend="flex-fna"), batch=2)
    assert (out - reference).abs().max() <= 2e-5 * max(1.0, reference.abs().max().item())


def _per_step(comfy, flux, patched, steps=3):
    """What each of ``steps`` diffusion-model calls ran (one call per step: CFG is batched)."""
    seen, patch = [], patch_of(patched)
    handle = flux.model.diffusion_model.register_forward_hook(lambda *_: seen.append(dict(patch.totals())))
    try:
        _sample(comfy, patched, steps=steps)
    finally:
        handle.remove()
    assert len(seen) == steps
    return [{k: v - (seen[i - 1].get(k, 0) if i else 0) for k, v in s.items() if v - (seen[i - 1].get(k, 0) if i else 0)}
            for i, s in enumerate(seen)]


def _check_steps(per_step, dense_steps, reason):
    for step, counts in enumerate(per_step):
        if step in dense_steps:
            assert len(counts) == 1 and reason in next(iter(counts)) and sum(counts.values()) == LAYERS, counts
        else:
            assert counts == {"sparse": LAYERS}, (step, counts)


@pytest.mark.parametrize("recipe, dense_steps, reason", [
    ({**SPARSE, "dense_steps": 1}, [0], "dense step (step < dense_steps=1)"),
    ({**SPARSE, "dense_final_steps": 1}, [2], "dense final step"),
    ({**SPARSE, "dense_steps": 1, "dense_final_steps": 1}, [0, 2], "dense"),
])
def test_the_recipes_dense_steps_count_sampler_steps(comfy, flux, recipe, dense_steps, reason):
    _check_steps(_per_step(comfy, flux, patch_model(flux, recipe, backend="reference")), dense_steps, reason)


@pytest.mark.parametrize("start, end", [(0.5, 1.0), (0.0, 0.5), (0.2, 0.9), (0.0, 1.0)])
def test_start_and_end_percent_follow_comfyuis_sigmas(comfy, flux, start, end):
    """Dense outside [start, end] as ComfyUI's own model_sampling and scheduler place the steps."""
    sampling = flux.get_model_object("model_sampling")
    sigmas = comfy.samplers.calculate_sigmas(sampling, "simple", 3)[:-1].tolist()
    first, last = sampling.percent_to_sigma(start), sampling.percent_to_sigma(end)
    expected = [i for i, sigma in enumerate(sigmas) if (start > 0 and sigma > first) or (end < 1 and sigma < last)]
    patched = patch_model(flux, SPARSE, backend="reference", start_percent=start, end_percent=end)
    _check_steps(_per_step(comfy, flux, patched), expected, "_percent=")


def test_an_earlier_override_is_kept_for_what_runs_stock(comfy, flux):
    calls = []

    def earlier(func, *args, **kwargs):  # another node's override (e.g. a different SDPA kernel)
        calls.append(args[0].shape)
        return func(*args, **kwargs)

    model = flux.clone()
    model.model_options.setdefault("transformer_options", {})[OVERRIDE_KEY] = earlier
    patched = patch_model(model, {**SPARSE, "dense_steps": 1}, backend="flex-fna")
    _sample(comfy, patched, steps=2)
    # step 0 dense: every layer through the earlier override; step 1 sparse: only the text rows are
    # dense, through it too (6 text queries; flex-fna runs them through the model's own attention)
    assert len(calls) == 2 * LAYERS and {shape[2] for shape in calls[LAYERS:]} == {6}


def test_describe_and_the_log_say_what_ran(comfy, flux, caplog):
    patched = patch_model(flux, {**SPARSE, "dense_steps": 1}, backend="reference", start_percent=0.0)
    with caplog.at_level(logging.INFO, logger="na_accel"):
        _sample(comfy, patched, steps=2)
    text = describe_model(patched)
    assert "single_transformer_blocks.1.attn" in text
    assert f"totals: sparse: {LAYERS}, dense: dense step (step < dense_steps=1): {LAYERS}" in text
    assert "window 3x3 stride 1x1 dilation 1x1 at grid 10x14" in text
    logged = [r.getMessage() for r in caplog.records if r.name == "na_accel"]
    assert len(logged) == 1 and f"sparse: {LAYERS}" in logged[0] and "dense step" in logged[0]


@pytest.mark.parametrize("recipe, kwargs, error, match", [
    ("wan_gna", {}, RecipeError, "wan"),  # another family's recipe
    ({**SPARSE, "layers": [{"match": "double_blocks.*", "dense": True}]}, {}, RecipeError, "matches no attention layer"),
    (SPARSE, {"backend": "fastest"}, ArgumentError, "unknown backend 'fastest'"),
    (SPARSE, {"start_percent": 1.5}, ArgumentError, "start_percent: 1.5"),
    (SPARSE, {"start_percent": 0.6, "end_percent": 0.4}, ArgumentError, "start_percent: 0.6 is after end_percent"),
    (SPARSE, {"speed_gate": "fast"}, ArgumentError, "speed_gate: 'fast'"),
    ("no_such_recipe", {}, RecipeError, "no_such_recipe"),
])
def test_bad_requests_are_refused_before_anything_changes(comfy, flux, recipe, kwargs, error, match):
    before = repr(flux.model_options)
    with pytest.raises(error, match=match):
        patch_model(flux, recipe, **kwargs)
    assert repr(flux.model_options) == before


def test_a_model_no_family_covers_is_refused_with_what_is_supported():
    class NotComfy:
        pass

    with pytest.raises(UnsupportedModelError, match="expected a ComfyUI MODEL"):
        patch_model(NotComfy(), SPARSE)


def test_a_sampling_run_that_never_reached_gna_is_said(comfy, flux, caplog):
    patched = patch_model(flux, SPARSE, backend="reference")
    later = patched.clone()  # a node after the GNA node that sets an override of its own, dropping na_accel's
    later.model_options["transformer_options"][OVERRIDE_KEY] = lambda func, *args, **kwargs: func(*args, **kwargs)
    with caplog.at_level(logging.INFO, logger="na_accel"):
        _sample(comfy, later)
    logged = [r for r in caplog.records if r.name == "na_accel"]
    assert [r.levelno for r in logged] == [logging.WARNING] and "ran as stock" in logged[0].getMessage()


def test_a_comfyui_without_the_attention_override_is_refused(comfy, flux, monkeypatch):
    monkeypatch.delattr(comfy.attention, "wrap_attn")
    with pytest.raises(UnsupportedModelError, match="optimized_attention_override"):
        patch_model(flux, SPARSE)
