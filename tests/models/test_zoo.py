"""Model names -> models: shipped full-size configs, random weights built on the meta device, presets."""

import re

import pytest
import torch

import na_accel
import na_accel.tiny
from na_accel import ArgumentError
from na_accel.models.random_weights import build_on_device, meta_model
from na_accel.models.zoo import MODELS, load_model, shipped_config

# Parameter counts of the published transformers (FLUX.1-dev ~11.9B, HunyuanVideo ~12.8B,
# Cosmos-Predict1 7B ~7.2B, Wan2.1 14B ~14.3B, HunyuanVideo 1.5 ~8.3B).
FULL_SIZE = {"flux-dev": 11.90e9, "hunyuan-video": 12.82e9, "cosmos-7b": 7.24e9, "wan-14b": 14.29e9,
             "hunyuan-video15": 8.33e9}

# Shrinks a shipped config to a toy (2 heads x head_dim 16, one block of each kind).
TOY = {
    "flux-dev": {"num_layers": 1, "num_single_layers": 1, "num_attention_heads": 2, "attention_head_dim": 16,
                 "joint_attention_dim": 32, "pooled_projection_dim": 32, "axes_dims_rope": [4, 6, 6], "in_channels": 16},
    "hunyuan-video": {"in_channels": 4, "out_channels": 4, "num_attention_heads": 2, "attention_head_dim": 16,
                      "num_layers": 1, "num_single_layers": 1, "num_refiner_layers": 1, "text_embed_dim": 32,
                      "pooled_projection_dim": 24, "rope_axes_dim": [4, 6, 6]},
    "cosmos-7b": {"in_channels": 4, "out_channels": 4, "num_attention_heads": 2, "attention_head_dim": 16,
                  "num_layers": 1, "mlp_ratio": 2.0, "text_embed_dim": 32, "adaln_lora_dim": 4,
                  "max_size": [4, 32, 32], "concat_padding_mask": False},
    "wan-14b": {"num_attention_heads": 2, "attention_head_dim": 16, "in_channels": 4, "out_channels": 4,
                "text_dim": 32, "freq_dim": 32, "ffn_dim": 64, "num_layers": 1, "rope_max_seq_len": 32},
    "hunyuan-video15": {"in_channels": 9, "out_channels": 4, "num_attention_heads": 2, "attention_head_dim": 16,
                        "num_layers": 1, "num_refiner_layers": 1, "text_embed_dim": 32, "text_embed_2_dim": 24,
                        "image_embed_dim": 16, "rope_axes_dim": [4, 6, 6]},
}


@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_shipped_config_loads_full_size_on_meta(name):
    shipped = shipped_config(name)
    model = meta_model(shipped["class_name"], shipped["config"])
    assert type(model).__name__ == shipped["class_name"]
    assert all(p.device.type == "meta" for p in model.parameters())
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - FULL_SIZE[name]) / FULL_SIZE[name] < 0.01, count
    assert abs(count - shipped["approx_parameters"]) / count < 0.02
    assert MODELS[name].family == shipped["family"]


def test_full_size_random_weights_are_refused_on_cpu():
    with pytest.raises(ArgumentError, match=r"11\.9B parameters.*refused on the CPU.*--config-override"):
        load_model("flux-dev", random_weights=True, device="cpu")


@pytest.mark.parametrize("name", sorted(TOY))
def test_random_weights_denoising_loop_runs_every_family(name):
    """The synthetic inputs fit each family's forward; the scheduler drives the steps."""
    model = load_model(name, random_weights=True, config_overrides=TOY[name], text_len=6, seed=1)
    # HunyuanVideo 1.5's ByT5 projection has a fixed 2048-wide hidden layer in diffusers (4.2M parameters)
    toy_limit = 5_000_000 if name == "hunyuan-video15" else 2_000_000
    assert model.source == "random weights" and model.info()["parameters"] < toy_limit
    video = model.is_video
    frames = model.geometry.frames_per_token + 1 if video else None  # two latent frames
    out = model.generate(prompt="", seed=0, height=64, width=80, frames=frames, steps=2)
    assert torch.isfinite(out).all()
    assert model.pipe.scheduler.step_index == 2
    if video:  # latent frames, 64/8, 80/8 (HunyuanVideo 1.5: VAE 16x, 64/16, 80/16)
        assert out.shape[2:] == ((2, 4, 5) if name == "hunyuan-video15" else (2, 8, 10))
    else:
        assert out.shape == (1, 4 * 5, 16)  # packed FLUX latents: one per 16x16 pixels


def test_random_weights_are_built_in_dtype_on_device_and_seeded():
    shipped = shipped_config("flux-dev")
    config = {**shipped["config"], **TOY["flux-dev"]}
    a = build_on_device(shipped["class_name"], config, device=torch.device("cpu"), dtype=torch.bfloat16, seed=3)
    b = build_on_device(shipped["class_name"], config, device=torch.device("cpu"), dtype=torch.bfloat16, seed=3)
    c = build_on_device(shipped["class_name"], config, device=torch.device("cpu"), dtype=torch.bfloat16, seed=4)
    params = dict(a.named_parameters())
    assert all(p.dtype == torch.bfloat16 and p.device.type == "cpu" for p in params.values())
    name = "transformer_blocks.0.attn.to_q.weight"
    assert torch.equal(params[name], dict(b.named_parameters())[name])
    assert not torch.equal(params[name], dict(c.named_parameters())[name])
    assert 0.1 < params[name].float().std() * 16**0.5 * 4 < 10  # ~1/sqrt(fan_in) scale, not garbage


def test_patch_accepts_the_synthetic_pipeline_and_reads_its_steps():
    model = load_model("flux-dev", random_weights=True, config_overrides=TOY["flux-dev"], text_len=4)
    recipe = {"model": "flux", "dense_steps": 1, "default": {"kernel_size": [3, 3]}}
    na_accel.patch(model.pipe, recipe)
    model.generate(prompt="", seed=0, height=64, width=96, frames=None, steps=3)
    totals = na_accel.describe(model.pipe).transformers[0].totals
    na_accel.unpatch(model.pipe)
    layers = 2  # one dual-stream, one single-stream block
    assert totals["sparse"] == 2 * layers
    assert totals["dense: dense step (step < dense_steps=1)"] == layers


def test_tiny_preset_prompts_change_the_output():
    model = load_model("tiny-flux")
    kwargs = dict(seed=0, height=64, width=64, frames=None, steps=1)
    cat, cat_again, dog = (model.generate(prompt=p, **kwargs) for p in ("a cat", "a cat", "a dog"))
    assert cat.shape == (1, 3, 64, 64) and 0 <= cat.min() and cat.max() <= 1
    assert torch.equal(cat, cat_again)
    assert (cat - dog).abs().max() > 1e-3


@pytest.mark.parametrize("call,message", [
    (lambda: load_model("sdxl"), "unknown model 'sdxl'; known: tiny-flux, tiny-flux-shapes, tiny-flux-kontext, tiny-hunyuan-video"),
    (lambda: load_model("tiny-flux2-klien"), "unknown model 'tiny-flux2-klien' (did you mean 'tiny-flux2-klein'?); known:"),
    (lambda: load_model("Tiny-Flux"), "unknown model 'Tiny-Flux' (did you mean 'tiny-flux'?); known:"),
    (lambda: load_model("TINY-FLUX2-KLIEN"), "unknown model 'TINY-FLUX2-KLIEN' (did you mean 'tiny-flux2-klein'?); known:"),
    (lambda: load_model("/weights/FLUX.1-dev"), "model: the folder '/weights/FLUX.1-dev' does not exist; give an "
                                                "existing diffusers pipeline folder"),
    (lambda: load_model("./my-flux"), "the folder './my-flux' does not exist"),
    (lambda: load_model("flux-dev"), "add --random-weights"),
    (lambda: load_model("tiny-flux", random_weights=True), "tiny preset, random already"),
    (lambda: load_model("flux-dev", random_weights=True, config_overrides={"num_blocks": 1}), "unknown key(s) ['num_blocks']"),
    (lambda: load_model("tiny-flux", dtype="float64"), "--dtype: 'float64' is not supported"),
    (lambda: load_model("tiny-flux", device="tpu"), "--device: 'tpu'"),
])
def test_bad_models_say_what_is_allowed(call, message):
    with pytest.raises(ArgumentError) as info:
        call()
    assert message in str(info.value)


def test_tiny_preset_runs_in_bfloat16():
    model = load_model("tiny-flux", dtype="bfloat16")
    assert next(model.transformer.parameters()).dtype == torch.bfloat16
    out = model.generate(prompt="a cat", seed=0, height=32, width=32, frames=None, steps=1)
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()


@pytest.mark.slow
@pytest.mark.parametrize("name,frames_shape", [
    ("tiny-hunyuan-video", (9, 3, 48, 64)),
    ("tiny-cosmos", (9, 3, 48, 80)),
    ("tiny-wan", (9, 3, 48, 64)),
    ("tiny-hunyuan-video15", (9, 3, 48, 64)),
])
def test_video_tiny_presets_generate_frames_from_prompt_text(name, frames_shape):
    model = load_model(name)
    assert model.is_video and model.default_frames == 9
    kwargs = dict(seed=0, height=frames_shape[2], width=frames_shape[3], frames=9, steps=2)
    fox, cat = (model.generate(prompt=p, **kwargs) for p in ("a red fox", "a cat"))
    assert fox.shape == (1, *frames_shape) and 0 <= fox.min() and fox.max() <= 1
    assert (fox - cat).abs().max() > 0  # the prompt reaches the tiny text encoder


def test_a_preset_missing_from_tiny_pipelines_is_a_clear_error(monkeypatch):
    import na_accel.tiny

    pipelines = {k: v for k, v in na_accel.tiny.TINY_PIPELINES.items() if k != "tiny-wan"}
    monkeypatch.setattr(na_accel.tiny, "TINY_PIPELINES", pipelines)
    with pytest.raises(ArgumentError, match="'tiny-wan' is not available: na_accel.tiny.TINY_PIPELINES has no"):
        load_model("tiny-wan")


def test_every_listed_tiny_preset_is_built_by_the_tiny_package():
    """`na-accel models` lists MODELS without importing the presets: each listed one must exist."""
    import na_accel.tiny

    presets = {spec.build_preset.preset for spec in MODELS.values() if hasattr(spec.build_preset, "preset")}
    assert presets and presets <= set(na_accel.tiny.TINY_PIPELINES)


def test_models_command_lists_every_model(capsys):
    from na_accel.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in MODELS)
    assert re.search(r"^flux-dev +flux +random-weights config +--random-weights ", out, re.M)


def test_models_command_prints_a_header_first(capsys):
    from na_accel.cli import main

    assert main(["models"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[:4] == ["name", "family", "kind", "usage"]


def test_every_tiny_pipeline_is_a_model():
    """One list: na_accel.tiny's presets are all runnable by name (tiny-cosmos2-t2i included)."""
    assert set(na_accel.tiny.TINY_PIPELINES) <= set(MODELS)
    assert {n for n, s in MODELS.items() if s.config_file is None} == set(na_accel.tiny.TINY_PIPELINES)


@pytest.mark.parametrize("command", ["bench", "compare"])
def test_help_names_every_model(command, capsys, monkeypatch):
    from na_accel.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    missing = [name for name in MODELS if name not in text]
    assert missing == []


def test_readme_names_every_model():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert [name for name in MODELS if f"`{name}`" not in readme] == []


def test_the_cosmos2_text_to_image_preset_makes_images_from_prompts():
    model = load_model("tiny-cosmos2-t2i")
    assert not model.is_video and model.family == "cosmos" and model.default_frames is None
    kwargs = dict(seed=0, height=model.default_height, width=model.default_width, frames=None, steps=2)
    fox, cat = (model.generate(prompt=p, **kwargs) for p in ("a red fox", "a cat"))
    assert fox.shape == (1, 3, model.default_height, model.default_width) and 0 <= fox.min() and fox.max() <= 1
    assert (fox - cat).abs().max() > 0


def test_a_folder_load_silences_exactly_the_torchvision_notices(monkeypatch):
    """transformers logs "`CLIPImageProcessor` requires torchvision (not installed); falling back to ..."
    while a pipeline with an image processor loads: silenced around the load only, nothing else."""
    import logging
    import warnings

    from na_accel.models import zoo

    notice = "`CLIPImageProcessor` requires torchvision (not installed); falling back to `CLIPImageProcessorPil`"
    emitter = logging.getLogger("transformers.utils.import_utils")
    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    def fake_from_pretrained(path, dtype):
        emitter.warning(notice)
        emitter.warning("another transformers warning")
        warnings.warn(f"{notice} (as a Python warning)")
        warnings.warn("another Python warning")
        return na_accel.tiny.tiny_pipeline("tiny-flux")

    monkeypatch.setattr(zoo, "_from_pretrained", fake_from_pretrained)
    library = logging.getLogger("transformers")
    handler = Collect(logging.WARNING)
    library.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = zoo.load_pretrained("/weights/flux", device=torch.device("cpu"), dtype=torch.float32)
            warnings.warn(f"{notice} (after the load)")
        emitter.warning(f"{notice} (after the load)")
    finally:
        library.removeHandler(handler)
    assert model.family == "flux"
    assert seen == ["another transformers warning", f"{notice} (after the load)"]
    assert [str(w.message) for w in caught] == ["another Python warning", f"{notice} (after the load)"]
    assert not [f for f in [*library.filters, *emitter.filters] if isinstance(f, zoo._TorchvisionNoticeFilter)]


# A pipeline folder's defaults: what the pipeline's own call uses (issue #37), each with its source.

def test_a_flux_pipeline_defaults_to_its_default_sample_size_times_vae_scale_factor():
    from na_accel.families.registry import family_spec
    from na_accel.models.zoo import pipeline_default_size, pretrained_defaults

    pipe = na_accel.tiny.tiny_pipeline("tiny-flux")  # its class puts the tiny call defaults before FluxPipeline's
    where = "the pipeline's default (FluxPipeline.default_sample_size 128 x vae_scale_factor 8)"
    assert pipeline_default_size(pipe) == {"height": (1024, where), "width": (1024, where)}
    sizes, sources = pretrained_defaults(pipe, family_spec("flux"))
    assert sizes == {"height": 1024, "width": 1024, "frames": None}
    assert sources == {"height": where, "width": where, "steps": "the flux family default"}


def test_a_wan_pipeline_defaults_to_its_call_signature():
    from na_accel.families.registry import family_spec
    from na_accel.models.zoo import pretrained_defaults

    sizes, sources = pretrained_defaults(na_accel.tiny.tiny_pipeline("tiny-wan"), family_spec("wan"))
    assert sizes == {"height": 480, "width": 832, "frames": 81}
    assert set(sources.values()) == {"the pipeline's default (WanPipeline.__call__'s)", "the wan family default"}
    assert sources["steps"] == "the wan family default"


def test_a_modular_pipeline_defaults_to_its_default_height_and_width():
    from na_accel.models.zoo import pipeline_default_size

    found = pipeline_default_size(na_accel.tiny.tiny_pipeline("tiny-flux-modular"))
    where = "the pipeline's default (FluxModularPipeline.default_height/default_width)"
    assert found == {"height": (1024, where), "width": (1024, where)}
    found = pipeline_default_size(na_accel.tiny.tiny_pipeline("tiny-wan2.2-modular"))
    assert found["frames"] == (81, "the pipeline's default (WanModularPipeline.default_height/default_width/"
                                   "default_num_frames)")


class _Config:
    def __init__(self, **values):
        self.__dict__.update(values)


class _Transformer:
    def __init__(self, **config):
        self.config = _Config(**config)


def test_a_transformer_config_sample_size_gives_the_size_and_a_size_the_family_cant_run_falls_back():
    from na_accel.families.registry import family_spec
    from na_accel.models.zoo import pipeline_default_size, pretrained_defaults

    class SamplePipeline:  # height=None in no diffusers __call__: the transformer's config decides
        vae_scale_factor = 8

        def __init__(self, sample_size):
            self.transformer = _Transformer(sample_size=sample_size)

    where = "the pipeline's config (transformer.config.sample_size 32 x vae_scale_factor 8)"
    assert pipeline_default_size(SamplePipeline(32)) == {"height": (256, where), "width": (256, where)}
    assert pretrained_defaults(SamplePipeline(32), family_spec("flux"))[0]["height"] == 256
    # 13 x 8 = 104 pixels is no multiple of FLUX's 16: the family default stands, and says so
    sizes, sources = pretrained_defaults(SamplePipeline(13), family_spec("flux"))
    assert (sizes["height"], sources["height"]) == (1024, "the flux family default")
    assert pipeline_default_size(object()) == {}  # nothing to read: nothing found


def test_a_hunyuan_video15_pipeline_defaults_to_its_target_size_at_16_9():
    from na_accel.models.zoo import pipeline_default_size

    pipe = na_accel.tiny.tiny_pipeline("tiny-hunyuan-video15")  # the tiny transformer's target_size: 64
    height, width = pipe.video_processor.calculate_default_height_width(9, 16, 64)  # what its call computes
    where = "the pipeline's config (transformer.config.target_size 64 at aspect 16:9)"
    assert pipeline_default_size(pipe) == {"height": (height, where), "width": (width, where),
                                           "frames": (121, "the pipeline's default (HunyuanVideo15Pipeline.__call__'s)")}
