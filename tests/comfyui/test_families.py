"""Every ComfyUI family, on ComfyUI's own classes and sampler: the contract of the diffusers
integration (tests/integration/test_contract.py), through the node's code path.

* a window covering the grid reproduces stock sampling, on every backend this machine runs;
* a small window matches the explicit-mask ``reference`` backend, and changes the result;
* every self-attention call of every block ran through GNA, counted once, with the grid(s) the
  case states (worked out by hand from the latent and the patch size).
"""

from __future__ import annotations

import pytest

from comfyui.cases import CASES
from comfyui.cases.base import TOLERANCE, cpu_backends, relative_difference, sample_counted
from na_accel.comfyui import COMFY_FAMILIES
from na_accel.comfyui.families import comfy_family_for
from na_accel.families import family_geometry

STEPS = 2




def _recipe(family: str, kernel: int) -> dict:
    rank = len(family_geometry(family).axes)
    return {"model": family, "name": f"test_{kernel}", "speed_gate": "sparse", "default": {"kernel_size": [kernel] * rank}}


FULL, SPARSE = 255, 3

pytestmark = pytest.mark.slow  # whole ComfyUI sampling runs, per case and backend (the Triton interpreter: seconds each)

PARAMS = [pytest.param(case, backend, id=f"{case.name}-{backend}") for case in CASES for backend in cpu_backends(len(family_geometry(case.family).axes))]



def _run(comfy, models, case, kernel=None, backend="reference"):
    """(sampled latent, totals of what ran, the diffusion model's forward calls, the patch)."""
    recipe = _recipe(case.family, kernel) if kernel is not None else None
    return sample_counted(comfy, models(case), case, recipe, backend, steps=STEPS)


def _layers(models, case) -> int:
    model = models(case).model.diffusion_model
    return len(list(comfy_family_for(model).layers(model)))


@pytest.mark.parametrize("case, backend", PARAMS)
def test_full_window_reproduces_stock(comfy, models, case, backend):
    stock, _, _, _ = _run(comfy, models, case)
    out, totals, forwards, patch = _run(comfy, models, case, FULL, backend)
    assert relative_difference(out, stock) <= TOLERANCE
    assert forwards > 0 and totals == {"full window": forwards * _layers(models, case)}


@pytest.mark.parametrize("case, backend", PARAMS)
def test_sparse_window_matches_reference(comfy, models, case, backend):
    reference, _, _, _ = _run(comfy, models, case, SPARSE, "reference")
    out, totals, forwards, patch = _run(comfy, models, case, SPARSE, backend)
    stock, _, _, _ = _run(comfy, models, case)
    assert relative_difference(out, reference) <= TOLERANCE
    assert relative_difference(out, stock) > 1e-4  # the window is sparse: GNA changed the sampling
    assert totals == {"sparse": forwards * _layers(models, case)}
    resolved = [route.windows.last for route in patch.routes.values()]
    assert {r.window.grid for r in resolved} == {case.grid}
    assert {tuple(w.grid for w in r.extra) for r in resolved} == {case.reference_grids}


def test_every_family_has_a_case():
    assert {case.family for case in CASES} == {family.name for family in COMFY_FAMILIES}
