"""The contract every (family, backend, configuration) keeps, inside real pipelines.

One parametrized suite in the style of PEFT's ``testing_common``: presets come from the tiny
pipeline registry (every family of ``FAMILY_SPECS``, via the zoo), backends from the backend
registry (each one that can run on this machine: ``reference``, ``flex-fna``, ``triton`` under the
interpreter on CPU), configurations from ``CONFIGS``. A new family, backend or configuration joins
by being registered: no new test code. The contract:

* a window covering the whole grid reproduces stock output (<= 1e-5, float32);
* a small window with stride and dilation gives the ``reference`` backend's output (<= 1e-5), and
  differs from stock (the window is really sparse);
* ``describe``'s counts equal the attention calls made, counted by an independent forward hook,
  and nothing ran dense by surprise.

Configurations a user really runs: stock projections, ``fuse_qkv_projections()`` where the
transformer has it (the fused QKV is split into views), batch 2 with prompts of different lengths
under classifier-free guidance (padded text), and reference images where the family takes them.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import PIL.Image
import pytest
import torch

import na_accel
from na_accel.families import adapter_for, family_geometry, family_spec
from na_accel.kernels.reference import REFERENCE
from na_accel.pipeline_parts import generated, latent_output, pipeline_transformers
from na_accel.runtime.seam import unroutable_reason
from na_accel.tiny import TINY_PIPELINES, unavailable_reason
from na_accel.models.zoo import MODELS
from helpers.contract import difference, runnable_backends

TOLERANCE = 1e-5  # float32, relative to the output's scale
# Cosmos' EDM preconditioning scales the model's output by sigma (~80 at the first step) and its CFG
# by 7: float32 reassociation (~1e-7 in attention, any two backends) shows as ~2e-5 in the latents.
TOLERANCE_BY_FAMILY = {
    "cosmos": 5e-5,
}
# Small grids keep the interpreter quick: 8 x 12 tokens (x the preset's frames), large enough for
# the sparse windows' stride and dilation. One step, two where the scheduler ignores the model at
# its last step (Cosmos' EDM).
GRID_HW = (8, 12)
STEPS = {
    "cosmos": 2,
}
PROMPTS = ["a red fox", "a red fox in the snow under a low winter sun"]  # padded text: two lengths
SPARSE_WINDOW = {2: {"kernel_size": [3, 3], "stride": [2, 1], "dilation": [1, 2]},
                 3: {"kernel_size": [2, 3, 3], "stride": [1, 2, 1], "dilation": [1, 1, 2]}}
FULL_WINDOW = {"kernel_size": 4096}  # clamped to every grid
# Classifier-free guidance where a preset's defaults run without it (FLUX.1 is guidance-distilled).
TRUE_CFG = {
    "flux": {"negative_prompt": ["blurry", "a dark and blurry picture"], "true_cfg_scale": 2.0},
}


# Pipelines that take one prompt string per call, no batch (their transformers run batch 2 in
# tests/helpers/family_cases.py): MiniMax-H3 packs one request per sequence; FLUX.3's modular pipeline refuses lists.
ONE_PROMPT_FAMILIES = {
    "minimax_h3",
    "flux3",
    "wan_vace",  # WanVACEPipeline (0.42) refuses a list of prompts and any batch ("not yet supported")
}


def _picture(height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return PIL.Image.fromarray(pixels)


@dataclass(frozen=True)
class Config:
    """One way users run a pipeline: what is done to it before patching, and what its call adds."""

    name: str
    applies: Callable[[str, Any], bool]  # (preset, pipeline) -> whether the configuration exists there
    prepare: Callable[[Any], None] = lambda pipe: None
    call: Callable[[str], dict] = lambda preset: {}


def _transformers(pipe):
    return [module for _, module in pipeline_transformers(pipe)]


def _fuse(pipe):
    for transformer in _transformers(pipe):
        transformer.fuse_qkv_projections()


def _fusable(preset, pipe) -> bool:
    """Whether stock diffusers fuses the transformers' projections: diffusers 0.42's Kandinsky 6 has
    fuse_qkv_projections (AttentionMixin), but its attention modules name their projections
    to_query / to_key / to_value, and fusing them raises AttributeError (tried on a copy)."""
    for transformer in _transformers(pipe):
        if not hasattr(transformer, "fuse_qkv_projections"):
            return False
        try:
            copy.deepcopy(transformer).fuse_qkv_projections()
        except AttributeError:
            return False
    return True


CONFIGS = [
    Config("stock", lambda preset, pipe: True),
    Config("fused-qkv", _fusable, prepare=_fuse),
    Config("cfg-batch2-padded", lambda preset, pipe: MODELS[preset].family not in ONE_PROMPT_FAMILIES,
           call=lambda preset: {"prompt": PROMPTS, **TRUE_CFG.get(MODELS[preset].family, {})}),
    # FLUX.1 Kontext takes its reference image by default; FLUX.2 edits with one or several.
    Config("reference-images", lambda preset, pipe: MODELS[preset].family == "flux2",
           call=lambda preset: {"image": [_picture(64, 96), _picture(96, 80, seed=1)]}),
]

CONFIG_BY_NAME = {config.name: config for config in CONFIGS}


@functools.lru_cache(maxsize=None)
def _pipeline(preset: str, config: str):
    """The preset's tiny pipeline in ``config``; None where the configuration does not exist."""
    pipe = TINY_PIPELINES[preset][0](seed=0)
    spec = CONFIG_BY_NAME[config]
    if not spec.applies(preset, pipe):
        return None
    spec.prepare(pipe)
    return pipe

CASES = [(preset, config.name) for preset in TINY_PIPELINES for config in CONFIGS]


class CallCounter:
    """Counts the forward calls of every attention module GNA may replace (independent of na_accel's
    counters: a forward pre-hook on the module itself)."""

    def __init__(self, pipe):
        self.calls = 0
        self.handles = [module.register_forward_pre_hook(self._count)
                        for transformer in _transformers(pipe)
                        for _, module in adapter_for(transformer).attention_layers(transformer)]

    def _count(self, module, args):
        self.calls += 1

    def remove(self):
        for handle in self.handles:
            handle.remove()


def _generate(pipe, preset, config):
    call = TINY_PIPELINES[preset][1]
    model = MODELS[preset]
    height, width = (n * model.geometry.pixels_per_token for n in GRID_HW)
    kwargs = call(steps=STEPS.get(model.family, 1), seed=1, height=height, width=width, **latent_output(pipe),
                  **CONFIG_BY_NAME[config].call(preset))
    with torch.no_grad():
        output = pipe(**kwargs)
    return torch.as_tensor(generated(output)).float()


@functools.lru_cache(maxsize=None)
def _run(preset, config, window, backend):
    """(output, describe totals, attention calls seen by the independent hook) of one generation;
    ``window`` None: stock (unpatched)."""
    pipe = _pipeline(preset, config)
    family = MODELS[preset].family
    counter = CallCounter(pipe)
    try:
        if window is None:
            return _generate(pipe, preset, config), {}, counter.calls
        na_accel.patch(pipe, {"model": family, "dense_steps": 0, "default": _thaw(window)}, backend=backend)
        try:
            out = _generate(pipe, preset, config)
            totals = {}
            for report in na_accel.describe(pipe).transformers:
                for outcome, count in report.totals.items():
                    totals[outcome] = totals.get(outcome, 0) + count
        finally:
            na_accel.unpatch(pipe)
        return out, totals, counter.calls
    finally:
        counter.remove()


def _freeze(window: dict) -> tuple:
    """A hashable window (``_run`` caches per window); ``_thaw`` gives the recipe's dict back."""
    return tuple((key, tuple(value) if isinstance(value, list) else value) for key, value in window.items())


def _thaw(window: tuple) -> dict:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in window}


def _unrouted_reason(preset: str) -> str | None:
    """Why no stock processor of the preset's family can be routed on the installed diffusers (its
    Cosmos processor called F.scaled_dot_product_attention itself before 0.37), else None: patch
    then leaves every layer stock and ``describe`` names the reason (tests/runtime/test_seam.py)."""
    import diffusers

    processors = family_spec(MODELS[preset].family).adapter().processors
    reasons = [reason for cls in processors if (reason := unroutable_reason(cls)) is not None]
    if processors and len(reasons) == len(processors):
        return f"diffusers {diffusers.__version__}: {reasons[0]}"
    return None


# preset -> why the installed diffusers can't build it (tiny-flux2-klein on diffusers 0.36) or GNA
# can't route it (tiny-cosmos on 0.36): its cases skip, saying so
UNAVAILABLE = {preset: reason for preset in TINY_PIPELINES
               if (reason := unavailable_reason(preset) or _unrouted_reason(preset)) is not None}


def _case_params():
    params = []
    for preset, config in CASES:
        marks = [pytest.mark.skip(reason=UNAVAILABLE[preset])] if preset in UNAVAILABLE else []
        for backend in runnable_backends(MODELS[preset].family):
            params.append(pytest.param(preset, config, backend, id=f"{preset}-{config}-{backend}", marks=marks))
    return params


def _applies(preset, config):
    return preset in UNAVAILABLE or _pipeline(preset, config) is not None


PARAMS = [p for p in _case_params() if _applies(*p.values[:2])]
RUNNABLE = [p for p in PARAMS if p.values[0] not in UNAVAILABLE]


# The Triton kernel runs under the interpreter on CPU (minutes a case at full window): its full window
# is checked in the stock configuration (and at the transformer, batch 2 with padded text:
# test_transformer_contract.py); in the others its sparse windows equal the reference, while the
# other backends' full windows reproduce stock there.
INTERPRETED = {"triton"}
FULL_WINDOW_PARAMS = [p for p in PARAMS if p.values[2] not in INTERPRETED or p.values[1] == "stock"]


@pytest.mark.parametrize("preset, config, backend", FULL_WINDOW_PARAMS)
def test_full_window_reproduces_stock(preset, config, backend):
    stock, _, stock_calls = _run(preset, config, None, None)
    out, totals, calls = _run(preset, config, _freeze(FULL_WINDOW), backend)
    assert difference(out, stock) <= TOLERANCE_BY_FAMILY.get(MODELS[preset].family, TOLERANCE)
    assert calls == stock_calls > 0
    assert totals == {"full window": calls}  # every attention call went through GNA, counted once


@pytest.mark.parametrize("preset, config, backend", PARAMS)
def test_sparse_window_matches_reference(preset, config, backend):
    rank = len(family_geometry(MODELS[preset].family).axes)
    window = _freeze(SPARSE_WINDOW[rank])
    reference, _, _ = _run(preset, config, window, REFERENCE)
    out, totals, calls = _run(preset, config, window, backend)
    stock, _, _ = _run(preset, config, None, None)
    assert difference(out, reference) <= TOLERANCE_BY_FAMILY.get(MODELS[preset].family, TOLERANCE)
    assert difference(out, stock) > 1e-4  # the window is sparse: GNA changed the generation
    assert sum(totals.values()) == calls and totals.get("sparse", 0) > 0
    assert all(outcome in ("sparse", "full window") for outcome in totals), totals  # no dense by surprise


def test_every_family_and_backend_is_in_the_contract():
    from na_accel.families.registry import available_family_specs

    families = {MODELS[preset].family for preset, _, _ in (p.values for p in RUNNABLE)}
    assert families == {spec.name for spec in available_family_specs()}  # all of them on the newest diffusers
    backends = {backend for _, _, backend in (p.values for p in RUNNABLE)}
    assert {"reference", "triton", "flex-fna"} <= backends  # what CI's machine runs
    assert {p.values[2] for p in FULL_WINDOW_PARAMS if p.values[0] not in UNAVAILABLE} == backends
    configs = {config for _, config, _ in (p.values for p in RUNNABLE)}
    assert configs == set(CONFIG_BY_NAME)
