"""Cost profiles: the shipped ones parse and match their devices; user files are hostile; lookup order."""

from __future__ import annotations

import json

import pytest

from na_accel.errors import CostProfileError
from na_accel.speed import profiles
from na_accel.speed.profiles import find_profile, load_profile, parse_profile, shipped_profiles

from helpers.cost_profiles import cpu_profile


def test_shipped_profiles_parse_and_round_trip():
    found = shipped_profiles()
    assert found, "no shipped cost profile"
    for profile in found:
        assert parse_profile(profile.to_dict(), profile.source) == profile
        assert profile.measured  # says where its numbers come from


def test_the_h100_profile_matches_hopper_names_in_half_precision_only():
    h100 = find_profile("NVIDIA H100 80GB HBM3", "bfloat16")
    assert h100 is not None and "triton" in h100.backends
    assert find_profile("NVIDIA H100 80GB HBM3", "float16") == h100
    assert find_profile("NVIDIA H100 80GB HBM3", "float32") is None
    assert find_profile("NVIDIA A100-SXM4-80GB", "bfloat16") is None
    assert find_profile("cpu", "float32") is None


def _broken(**changes):
    data = cpu_profile(1e9)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target = data
        for p in parents:
            target = target[p]
        if value is KeyError:
            del target[leaf]
        else:
            target[leaf] = value
    return data


@pytest.mark.parametrize("changes,message", [
    ({"format": 7}, "format: 7 is not supported"),
    ({"device": KeyError}, "missing field 'device'"),
    ({"matches": []}, "matches: expected a non-empty list"),
    ({"dtypes": ["int8"]}, "dtypes: ['int8']; allowed values"),
    ({"dense.flops_per_s": 0}, "dense: flops_per_s: 0 is out of range"),
    ({"dense.overhead_s": "fast"}, "dense: overhead_s: expected a finite number, got 'fast'"),
    ({"backends.reference.full_flops_per_s": float("nan")}, "backends.reference: full_flops_per_s"),
    ({"backends.reference.speed": 1}, "backends.reference: unknown field(s) ['speed']"),
    ({"backends": {}}, "backends: empty"),
    ({"margin": 2}, "margin: 2 is out of range"),
    ({"shared_memory": -1}, "shared_memory: -1 is not a positive integer"),
    ({"capability": 9.0}, "capability: 9.0 is not a compute capability as one integer (e.g. 90 for 9.0)"),
    ({"capability": True}, "capability: True is not a compute capability"),
    ({"colour": "red"}, "unknown field(s) ['colour']"),
])
def test_malformed_profiles_name_the_field_and_the_value(changes, message):
    with pytest.raises(CostProfileError) as error:
        parse_profile(_broken(**changes), "my.json")
    assert "cost profile my.json" in str(error.value) and message in str(error.value)


def test_unreadable_files_say_why(tmp_path):
    with pytest.raises(CostProfileError, match="can't read it"):
        load_profile(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CostProfileError, match=r"bad.json: not JSON: .* at line 1"):
        load_profile(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(CostProfileError, match="expected a JSON object, got list"):
        load_profile(tmp_path / "list.json")


def test_lookup_order_user_file_then_cache_then_shipped(tmp_path, monkeypatch):
    monkeypatch.setenv(profiles.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(profiles.ENV_PROFILE, raising=False)
    assert find_profile("cpu", "float32") is None
    cached = profiles.cached_profile_path("cpu")
    cached.parent.mkdir(parents=True)
    cached.write_text(json.dumps(cpu_profile(1e9, device="cpu")))
    assert find_profile("cpu", "float32").source == str(cached)
    # a calibrated H100 profile takes the place of the shipped one for that device
    h100 = profiles.cached_profile_path("NVIDIA H100 80GB HBM3")
    h100.write_text(json.dumps(cpu_profile(1e9, device="NVIDIA H100 80GB HBM3", matches=["H100"],
                                           dtypes=["bfloat16"])))
    assert find_profile("NVIDIA H100 80GB HBM3", "bfloat16").source == str(h100)
    explicit = tmp_path / "mine.json"
    explicit.write_text(json.dumps(cpu_profile(5e9)))
    monkeypatch.setenv(profiles.ENV_PROFILE, str(explicit))
    assert find_profile("cpu", "float32").backends["reference"].full_flops_per_s == 5e9
    assert find_profile("NVIDIA H100 80GB HBM3", "bfloat16") is None  # only the named file counts
    monkeypatch.setenv(profiles.ENV_PROFILE, str(tmp_path / "missing.json"))
    with pytest.raises(CostProfileError, match="missing.json: can't read it"):
        find_profile("cpu", "float32")


def test_a_changed_file_is_read_again(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    monkeypatch.setenv(profiles.ENV_PROFILE, str(path))
    path.write_text(json.dumps(cpu_profile(1e9)))
    assert find_profile("cpu", "float32").backends["reference"].full_flops_per_s == 1e9
    path.write_text(json.dumps(cpu_profile(2e9, measured="again")))
    assert find_profile("cpu", "float32").backends["reference"].full_flops_per_s == 2e9
