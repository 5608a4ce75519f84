"""Fixtures of the kernel tests."""

import copy

import pytest

from na_accel.kernels import registry


@pytest.fixture
def scratch_registry(monkeypatch):
    """The registry on copies of its state: registrations in a test are gone after it."""
    for state in ("BACKENDS", "_GPU_RANKS", "_OTHER_DEVICES"):
        monkeypatch.setattr(registry, state, copy.copy(getattr(registry, state)))
    return registry
