"""Concurrent calls of one patched transformer: each call sees only its own grid, text and counts."""

import threading

import torch

import na_accel
from na_accel.tiny import flux_transformer_inputs, tiny_flux_transformer

RECIPE = {"model": "flux", "default": {"kernel_size": [3, 3]}}
# (height, width, batch, text_len): different grids and text lengths per thread
SHAPES = [(5, 7, 1, 8), (6, 4, 2, 3), (3, 9, 1, 5)]
ROUNDS = 6


def test_concurrent_calls_of_different_shapes_match_sequential_calls():
    transformer = tiny_flux_transformer(seed=0).requires_grad_(False)
    na_accel.patch(transformer, RECIPE, backend="reference")
    inputs = [flux_transformer_inputs(*shape, seed=i) for i, shape in enumerate(SHAPES)]
    with torch.no_grad():
        sequential = [transformer(**kw).sample for kw in inputs]
    before = na_accel.describe(transformer).transformers[0].totals

    start = threading.Barrier(len(SHAPES))
    results: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(SHAPES))}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            start.wait()
            with torch.no_grad():
                for _ in range(ROUNDS):
                    results[i].append(transformer(**inputs[i]).sample)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(SHAPES))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    for i, outputs in results.items():
        assert len(outputs) == ROUNDS
        for output in outputs:
            assert torch.equal(output, sequential[i]), f"thread {i} (shape {SHAPES[i]}) saw another call's state"
    after = na_accel.describe(transformer).transformers[0].totals
    layers = len(na_accel.describe(transformer).transformers[0].layers)
    # every call of every thread counted exactly once per layer, all sparse, nothing lost
    assert after["sparse"] - before["sparse"] == len(SHAPES) * ROUNDS * layers
    assert {k: v for k, v in after.items() if k != "sparse"} == {k: v for k, v in before.items() if k != "sparse"}


def test_two_patched_transformers_keep_their_own_state():
    first = tiny_flux_transformer(seed=0).requires_grad_(False)
    second = tiny_flux_transformer(seed=0).requires_grad_(False)
    na_accel.patch(first, RECIPE, backend="reference")
    na_accel.patch(second, {"model": "flux", "default": {"kernel_size": [5, 5]}}, backend="reference")
    a, b = flux_transformer_inputs(5, 7, seed=0), flux_transformer_inputs(6, 4, text_len=3, seed=1)
    with torch.no_grad():
        expected = first(**a).sample, second(**b).sample
    outputs = {}

    def run(name, model, kw):
        with torch.no_grad():
            outputs[name] = [model(**kw).sample for _ in range(ROUNDS)]

    threads = [threading.Thread(target=run, args=("first", first, a)),
               threading.Thread(target=run, args=("second", second, b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(torch.equal(o, expected[0]) for o in outputs["first"])
    assert all(torch.equal(o, expected[1]) for o in outputs["second"])
