"""What the tiny presets need of the installed diffusers (na_accel/tiny/_requirements.py): every
preset builds on the diffusers it can, and says why where it can't (diffusers 0.36: no FLUX.2 Klein,
Wan needs ftfy), naming the installed release and what is missing."""

import pytest
import torch
from packaging.version import Version

import diffusers
from na_accel.errors import NaAccelError
from na_accel.tiny import TINY_PIPELINES, TinyPresetUnavailable, tiny_pipeline, unavailable_reason
from na_accel.tiny import _requirements
from na_accel.tiny._requirements import PRESET_CLASSES, config_arguments
from na_accel.models.model_list import MODELS

NEWER = Version(diffusers.__version__) >= Version(_requirements.DIFFUSERS_0_37)


def test_every_preset_says_what_it_is_built_from():
    assert set(PRESET_CLASSES) == set(TINY_PIPELINES)
    assert all(name in dir(diffusers) for classes in PRESET_CLASSES.values() for name in classes
               if name != "Flux2KleinPipeline")


@pytest.mark.skipif(not NEWER, reason=f"diffusers {diffusers.__version__}: some presets need 0.37")
def test_every_preset_is_available_on_a_newer_diffusers():
    assert {preset: unavailable_reason(preset) for preset in TINY_PIPELINES} == dict.fromkeys(TINY_PIPELINES)
    assert all(MODELS[preset].unavailable is None for preset in TINY_PIPELINES)


@pytest.mark.skipif(NEWER, reason="diffusers >= 0.37 has FLUX.2 Klein")
def test_klein_names_the_installed_diffusers_and_the_missing_class():
    reason = unavailable_reason("tiny-flux2-klein")
    assert f"diffusers {diffusers.__version__}" in reason and "Flux2KleinPipeline (added in diffusers 0.37.0)" in reason
    with pytest.raises(TinyPresetUnavailable, match="Flux2KleinPipeline"):
        tiny_pipeline("tiny-flux2-klein")
    assert MODELS["tiny-flux2-klein"].unavailable == reason  # na-accel models, load_model


@pytest.fixture
def diffusers_036(monkeypatch):
    """The reasons as diffusers 0.36.0 gives them: its version, no Flux2KleinPipeline, no ftfy."""
    monkeypatch.setattr(_requirements, "diffusers_version", lambda: "0.36.0")
    has_class = _requirements._has_class
    monkeypatch.setattr(_requirements, "_has_class", lambda name: name != "Flux2KleinPipeline" and has_class(name))
    find_spec = _requirements.importlib.util.find_spec
    monkeypatch.setattr(_requirements.importlib.util, "find_spec",
                        lambda name, *args: None if name == "ftfy" else find_spec(name, *args))


def test_the_reasons_on_diffusers_036(diffusers_036):
    reasons = {preset: unavailable_reason(preset) for preset in TINY_PIPELINES}
    assert reasons["tiny-flux2-klein"] == ("tiny-flux2-klein needs diffusers.Flux2KleinPipeline (added in diffusers "
                                           "0.37.0), which diffusers 0.36.0 does not have")
    for preset in ("tiny-wan", "tiny-wan2.2"):
        assert reasons[preset].startswith(f"{preset}: diffusers 0.36.0's WanPipeline cleans every prompt with ftfy")
        assert "pip install ftfy" in reasons[preset]
    assert {p for p, reason in reasons.items() if reason} == {"tiny-flux2-klein", "tiny-wan", "tiny-wan2.2"}
    with pytest.raises(TinyPresetUnavailable, match="ftfy") as raised:
        tiny_pipeline("tiny-wan2.2")
    assert isinstance(raised.value, NaAccelError) and isinstance(raised.value, RuntimeError)


def test_ftfy_is_not_needed_from_diffusers_037(diffusers_036, monkeypatch):
    monkeypatch.setattr(_requirements, "diffusers_version", lambda: "0.37.0")
    assert unavailable_reason("tiny-wan") is None


class _Model:
    """A model class of an older diffusers: no ``guidance_embeds``."""

    def __init__(self, num_layers: int = 1):
        pass


def test_newer_arguments_pass_where_the_class_takes_them():
    from diffusers import Flux2Transformer2DModel

    if "guidance_embeds" not in _requirements.inspect.signature(Flux2Transformer2DModel.__init__).parameters:
        pytest.skip(f"diffusers {diffusers.__version__}'s Flux2Transformer2DModel has no guidance_embeds")
    assert config_arguments(Flux2Transformer2DModel, "tiny", {"guidance_embeds": False},
                            older_values={"guidance_embeds": True}) == {"guidance_embeds": False}


def test_newer_arguments_are_left_out_at_the_older_behaviour_and_refused_otherwise(monkeypatch):
    monkeypatch.setattr(_requirements, "diffusers_version", lambda: "0.36.0")
    kept = config_arguments(_Model, "tiny model", {"guidance_embeds": True, "num_layers": 2},
                            older_values={"guidance_embeds": True})
    assert kept == {"num_layers": 2}
    with pytest.raises(TinyPresetUnavailable) as raised:
        config_arguments(_Model, "tiny model", {"guidance_embeds": False}, older_values={"guidance_embeds": True})
    assert str(raised.value) == ("tiny model: guidance_embeds=False needs a newer diffusers; diffusers 0.36.0's _Model "
                                 "has no 'guidance_embeds' argument")


def test_the_transformers_build_with_their_defaults_on_the_installed_diffusers():
    from na_accel.tiny.flux2 import tiny_flux2_transformer
    from na_accel.tiny.qwen_image import tiny_qwen_image_transformer

    assert isinstance(tiny_flux2_transformer(), torch.nn.Module)
    assert isinstance(tiny_qwen_image_transformer(), torch.nn.Module)
    if not NEWER:
        with pytest.raises(TinyPresetUnavailable, match=r"zero_cond_t=True needs diffusers >= 0\.37\.0"):
            tiny_qwen_image_transformer(zero_cond_t=True)
