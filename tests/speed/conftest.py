"""The speed tests' fixture: the cost profile every gate finds (helpers/cost_profiles.py builds them)."""

from __future__ import annotations

import json

import pytest

from na_accel.speed import profiles


@pytest.fixture
def use_profile(tmp_path, monkeypatch):
    """use_profile(data): make ``data`` the cost profile every gate finds ($NA_ACCEL_COST_PROFILE)."""
    def use(data: dict):
        path = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(data))
        monkeypatch.setenv(profiles.ENV_PROFILE, str(path))
        return path
    return use
