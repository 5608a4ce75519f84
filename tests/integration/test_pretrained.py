"""Real pipelines from a local folder (diffusers from_pretrained): a tiny FluxPipeline with text encoders."""

import json

import pytest
import torch

from na_accel.cli import main

WORDS = ["a", "cat", "dog", "red", "fox", "in", "snow", "photo", "of"]


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    from diffusers import FluxPipeline

    from na_accel.tiny import tiny_flux_pipeline

    tiny = tiny_flux_pipeline(seed=0)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, **{w + "</w>": i + 2 for i, w in enumerate(WORDS)}}
    torch.manual_seed(0)
    clip = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=77, projection_dim=32, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    t5_tokenizer = transformers.T5TokenizerFast(
        vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("\u2581" + w, -1.0) for w in WORDS],
        extra_ids=0, model_max_length=512)
    t5 = transformers.T5EncoderModel(transformers.T5Config(
        vocab_size=len(t5_tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=2))
    pipe = FluxPipeline(
        scheduler=tiny.scheduler, vae=tiny.vae, transformer=tiny.transformer,
        text_encoder=clip, tokenizer=transformers.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        text_encoder_2=t5, tokenizer_2=t5_tokenizer,
    )
    folder = tmp_path_factory.mktemp("pipelines") / "tiny-flux-full"
    pipe.save_pretrained(folder)
    return folder


def test_compare_a_local_pipeline_folder(pipeline_folder, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: flux\ndefault: {kernel_size: [3, 3]}\n")
    out_dir = tmp_path / "out"
    code = main(["compare", str(pipeline_folder), "--recipe", str(recipe), "--prompt", "a red fox",
                 "--height", "64", "--width", "64", "--steps", "2", "--output-dir", str(out_dir), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(f"compare {pipeline_folder}: 64x64 pixels (height, width: flag) -> token grid "
                                   "4x4, 2 steps (flag); runs: 1 prompt, dense and GNA each (2 generations)\n")
    result = json.loads((out_dir / "metrics.json").read_text())
    assert result["model"]["source"] == "pretrained" and result["model"]["pipeline_class"] == "FluxPipeline"
    assert result["value_sources"] == {"height": "flag", "width": "flag", "steps": "flag"}
    assert result["layer_calls"]["sparse"] == 2 * 4
    assert (out_dir / "side_by_side.png").is_file()


class _Stop(Exception):
    pass


@pytest.mark.parametrize("command", ["bench", "compare"])
def test_a_local_pipeline_folder_without_sizes_says_what_it_will_run_first(pipeline_folder, tmp_path, capsys,
                                                                            monkeypatch, command):
    """No --height/--width/--steps: the size the pipeline's own call uses (FluxPipeline: default_sample_size
    128 x vae_scale_factor 8, whatever the weights), the family's steps; the line says so before any run."""
    import na_accel.commands.bench
    import na_accel.commands.compare

    seen = {}

    def stop(model, recipe, settings, *args, **kwargs):
        seen.update(height=settings.height, width=settings.width, steps=settings.steps)
        raise _Stop

    monkeypatch.setattr(na_accel.commands.bench, "run_bench", stop)
    monkeypatch.setattr(na_accel.commands.compare, "run_compare", stop)
    out = ["--json", str(tmp_path / "b.json")] if command == "bench" else ["--output-dir", str(tmp_path / "o")]
    with pytest.raises(_Stop):
        main([command, str(pipeline_folder), "--recipe", "flux_gna", "--no-progress", *out])
    line = capsys.readouterr().out.splitlines()[0]
    assert seen == {"height": 1024, "width": 1024, "steps": 28}
    runs = ("1 warm-up + 3 timed, dense and GNA each (8 generations)" if command == "bench"
            else "1 prompt, dense and GNA each (2 generations)")
    assert line == (f"{command} {pipeline_folder}: 1024x1024 pixels (height, width: the pipeline's default "
                    "(FluxPipeline.default_sample_size 128 x vae_scale_factor 8); --height/--width to change) "
                    "-> token grid 64x64, 28 steps (the flux family default; --steps to change); runs: " + runs)


def test_a_local_pipeline_rejects_a_recipe_of_another_family(pipeline_folder, capsys):
    code = main(["bench", str(pipeline_folder), "--recipe", "wan_gna", "--height", "64", "--width", "64",
                 "--no-progress"])
    assert code == 2
    assert "--recipe: wan_gna is for model family 'wan'" in capsys.readouterr().err


def test_a_missing_folder_is_named_as_a_missing_folder(capsys):
    assert main(["bench", "./no/such/folder", "--recipe", "flux_gna"]) == 2
    err = capsys.readouterr().err
    assert "model: the folder './no/such/folder' does not exist" in err
    assert "tiny-flux" in err  # the known models are still listed


@pytest.mark.parametrize("transformer, message", [
    (torch.nn.Linear(2, 2), "transformer: Linear is not supported: no na_accel model family handles it\n"
                            "supported transformers \\(recipe model family\\):\n  FluxTransformer2DModel"),
    (None, "without a transformer\nsupported transformers \\(recipe model family\\):\n  FluxTransformer2DModel"),
])
def test_a_pipeline_with_an_unsupported_transformer_is_a_clear_error(monkeypatch, transformer, message):
    from diffusers import DiffusionPipeline

    from na_accel.errors import NaAccelError
    from na_accel.models.zoo import load_pretrained

    class Loaded:
        components = {"transformer": transformer}

        def to(self, device):
            return self

    monkeypatch.setattr(DiffusionPipeline, "from_pretrained", classmethod(lambda cls, path, dtype: Loaded()))
    with pytest.raises(NaAccelError, match=message):
        load_pretrained("/weights/other", device=torch.device("cpu"), dtype=torch.float32)


@pytest.fixture(scope="module")
def modular_folder(tmp_path_factory):
    """tiny-flux-modular saved by ModularPipeline.save_pretrained: modular_model_index.json, no model_index.json."""
    from na_accel.tiny import tiny_pipeline

    folder = tmp_path_factory.mktemp("pipelines") / "tiny-flux-modular"
    tiny_pipeline("tiny-flux-modular").save_pretrained(str(folder), overwrite_modular_index=True)
    assert (folder / "modular_model_index.json").is_file() and not (folder / "model_index.json").exists()
    return folder


@pytest.mark.slow
def test_compare_a_local_modular_pipeline_folder(modular_folder, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: flux\ndefault: {kernel_size: [3, 3]}\n")
    out_dir = tmp_path / "out"
    code = main(["compare", str(modular_folder), "--recipe", str(recipe), "--prompt", "a red fox",
                 "--height", "64", "--width", "64", "--steps", "2", "--output-dir", str(out_dir), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2/2 [" not in captured.err  # the nested denoising loop's own progress bar is silenced too
    result = json.loads((out_dir / "metrics.json").read_text())
    assert result["model"]["pipeline_class"] == "FluxModularPipeline" and result["model"]["modular"] is True
    assert result["layer_calls"]["sparse"] == 2 * 4  # 2 steps x 4 attention layers, no CFG (FLUX.1 is distilled)
    assert (out_dir / "side_by_side.png").is_file()


def test_a_modular_hub_repo_loads_through_modular_pipeline(monkeypatch):
    """A hub id whose repo has no model_index.json (a modular pipeline's): ModularPipeline.from_pretrained."""
    from diffusers import DiffusionPipeline
    from diffusers.modular_pipelines import ModularPipeline

    from na_accel.tiny import tiny_pipeline
    from na_accel.models.zoo import load_pretrained

    tiny = tiny_pipeline("tiny-flux-modular")
    asked = []

    def classic(cls, path, dtype):
        raise OSError(f"{path} does not appear to have a file named model_index.json.")

    def modular(cls, path):
        asked.append(path)
        return tiny

    monkeypatch.setattr(DiffusionPipeline, "from_pretrained", classmethod(classic))
    monkeypatch.setattr(ModularPipeline, "from_pretrained", classmethod(modular))
    monkeypatch.setattr(type(tiny), "load_components", lambda self, dtype: None)
    model = load_pretrained("someone/flux-modular", device=torch.device("cpu"), dtype=torch.float32)
    assert asked == ["someone/flux-modular"] and model.pipe is tiny and model.family == "flux"
    assert model.details == {"pipeline_class": "FluxModularPipeline", "modular": True}
