"""One forward of a tiny transformer, stock or patched, as the family tests compare them."""

import torch

import na_accel


def run(transformer, inputs):
    """The stock (or currently patched) forward's ``sample``, without autograd."""
    with torch.no_grad():
        return transformer(**inputs).sample


def run_patched(transformer, inputs, recipe, backend="auto"):
    """(output, describe's totals) of one forward patched with ``recipe`` on ``backend``; unpatched
    afterwards, whatever happens."""
    na_accel.patch(transformer, recipe, backend=backend)
    try:
        output = run(transformer, inputs)
        totals = na_accel.describe(transformer).transformers[0].totals
    finally:
        na_accel.unpatch(transformer)
    return output, totals
