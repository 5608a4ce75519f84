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
