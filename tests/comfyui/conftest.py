"""Fixtures of the ComfyUI tests: ComfyUI's modules (skipped, saying why, without a checkout)."""

from __future__ import annotations

import gc

import pytest

from comfyui.comfy_checkout import import_comfy, missing_reason


@pytest.fixture(scope="session")
def comfy():
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    return import_comfy()


@pytest.fixture(scope="session")
def comfy_models():
    """Each case's tiny model, built once per session (patching never changes it: test_patch checks so);
    dropped while ComfyUI's modules are still there (ModelPatcher.__del__ needs them)."""
    models: dict = {}
    yield models
    models.clear()
    gc.collect()


@pytest.fixture
def models(comfy, comfy_models):
    """case -> its tiny model (a ComfyUI ModelPatcher), built once per session."""
    def model(case):
        if case.name not in comfy_models:
            comfy_models[case.name] = case.build(comfy)
        return comfy_models[case.name]
    return model


@pytest.fixture
def flux(models):
    from comfyui.cases.flux import FLUX

    return models(FLUX)
