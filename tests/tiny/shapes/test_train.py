"""The training script of tiny-flux-shapes: FLUX's own packing and position ids, losses that fall, and a
pipeline folder that diffusers loads (trained small here: 32x32 pictures, a few dozen steps)."""

import json

import pytest
import torch

from na_accel.tiny.shapes.config import TrainingConfig
from na_accel.tiny.shapes.flow import flux_image_ids, pack_latents, token_weights
from na_accel.tiny.shapes.train import main


def test_packing_and_position_ids_are_flux_pipelines():
    from diffusers import FluxPipeline

    latents = torch.randn(2, 4, 6, 10)
    assert torch.equal(pack_latents(latents), FluxPipeline._pack_latents(latents, 2, 4, 6, 10))
    expected = FluxPipeline._prepare_latent_image_ids(2, 3, 5, torch.device("cpu"), torch.float32)
    assert torch.equal(flux_image_ids(3, 5), expected)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("shapes") / "pipeline"
    argv = ["--output-dir", str(out), "--seed", "3", "--picture-size", "32", "--warm-size", "16", "--warm-steps", "30",
            "--pictures", "96", "--vae-steps", "40", "--transformer-steps", "10", "--log-every", "10"]
    assert main(argv) == 0
    return out


def test_training_lowers_both_losses_in_two_stages(trained):
    record = json.loads((trained / "training.json").read_text())
    vae = [point["reconstruction_loss"] for point in record["vae"]["loss_curve"]]
    flow = record["transformer"]["loss_curve"]
    assert len(vae) == len(flow) == 4 and vae[-1] < 0.7 * vae[0]
    assert [(point["step"], point["picture_size"]) for point in flow] == [(10, 16), (20, 16), (30, 16), (40, 32)]
    assert flow[2]["flow_loss"] < flow[0]["flow_loss"]  # the first stage learns


def test_the_record_says_how_to_train_it_again(trained):
    record = json.loads((trained / "training.json").read_text())
    assert record["command"].startswith("python -m na_accel.tiny.shapes.train ") and "--seed 3" in record["command"]
    assert record["config"]["seed"] == 3 and record["config"]["picture_size"] == 32
    assert record["trained_grid"] == [8, 8]
    assert set(record["data"]["colours"]) == {"red", "green", "blue", "yellow", "cyan", "magenta"}
    assert record["vae"]["scaling_factor"] > 0 and set(record["versions"]) == {"torch", "diffusers", "transformers"}


def test_the_folder_is_a_diffusers_pipeline_in_float16(trained):
    from diffusers import FluxPipeline
    from safetensors import safe_open

    with safe_open(str(trained / "transformer" / "diffusion_pytorch_model.safetensors"), "pt") as weights:
        assert {weights.get_tensor(key).dtype for key in weights.keys()} == {torch.float16}
    pipe = FluxPipeline.from_pretrained(trained).to(torch.float32)
    assert pipe.vae_scale_factor == 2 and pipe.vae.config.scaling_factor > 0
    images = pipe("a red circle at the top left", height=32, width=32, num_inference_steps=2, max_sequence_length=32,
                  output_type="pt", generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (1, 3, 32, 32) and torch.isfinite(images).all()


def test_the_same_seed_draws_the_same_data_and_builds_the_same_start():
    from na_accel.tiny.shapes.train import build_components, draw_pictures

    config = TrainingConfig(seed=5, pictures=4, picture_size=16)
    (a, captions_a), (b, captions_b) = draw_pictures(config, (8, 16)), draw_pictures(config, (16,))
    assert torch.equal(a[16], b[16]) and captions_a == captions_b and a[16].min() >= -1 and a[16].max() <= 1
    assert a[8].shape == (4, 3, 8, 8)  # the same scenes, smaller
    first, second = build_components(config), build_components(config)
    for name in ("transformer", "vae", "text_encoder", "text_encoder_2"):
        for (key, x), (_, y) in zip(first[name].state_dict().items(), second[name].state_dict().items()):
            assert torch.equal(x, y), (name, key)


def test_the_loss_weighs_the_tokens_that_show_the_shape_more():
    from na_accel.tiny.shapes.scenes import Scene, draw

    config = TrainingConfig(foreground_weight=4.0)
    picture = draw(Scene("red", "square", "top left", size=0.3), 64, 64) * 2 - 1  # 16x16 tokens of 4x4 pixels
    weights = token_weights(picture[None], config).view(16, 16)
    heavy = (weights == 5.0).nonzero()
    assert set(weights.unique().tolist()) == {1.0, 5.0}
    # the square spans pixels 7.36 .. 24.64 (0.25 +- 0.135 of 64) on both axes, its edge pixels half
    # covered: tokens 1 (pixels 4-7) .. 6 (pixels 24-27)
    assert heavy.min(0).values.tolist() == [1, 1] and heavy.max(0).values.tolist() == [6, 6]
