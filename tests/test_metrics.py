"""Quality metrics: perfect on identical outputs, monotonically worse with noise, optional ones never download."""

import math

import pytest
import torch

from na_accel import ArgumentError
from na_accel.metrics import CLIP_SKIP, LPIPS_SKIP, QualityMetrics, format_metrics, psnr, ssim


def smooth_image(seed=0, size=(3, 48, 64)):
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, size[0], size[1] // 8, size[2] // 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=size[1:], mode="bilinear", align_corners=False)[0]


def test_identical_outputs_are_perfect():
    image = smooth_image()
    assert psnr(image, image.clone()) == math.inf
    assert ssim(image, image.clone()) == pytest.approx(1.0, abs=1e-6)


def test_metrics_get_worse_monotonically_with_noise():
    image = smooth_image()
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(1))
    levels = [0.005, 0.02, 0.05, 0.1, 0.3]
    psnrs = [psnr(image, (image + level * noise).clamp(0, 1)) for level in levels]
    ssims = [ssim(image, (image + level * noise).clamp(0, 1)) for level in levels]
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs
    assert all(a > b for a, b in zip(ssims, ssims[1:])), ssims
    assert 40 < psnrs[0] < 50 and ssims[-1] < 0.5
    # an independent check of PSNR: 10 log10(1 / MSE)
    noisy = (image + 0.05 * noise).clamp(0, 1)
    assert psnrs[2] == pytest.approx(10 * math.log10(1 / ((noisy - image) ** 2).mean().item()), rel=1e-4)


def test_video_frames_count_as_images():
    video = torch.stack([smooth_image(seed) for seed in range(3)]).unsqueeze(0)  # [1, F, 3, H, W]
    other = video.clone()
    other[0, 1] = smooth_image(seed=9)  # one frame differs
    assert psnr(video, video) == math.inf
    assert ssim(video, other) < 1.0 and psnr(video, other) < 40


def test_optional_metrics_are_skipped_with_a_reason():
    metrics = QualityMetrics().compute(smooth_image(), smooth_image(1), "a prompt")
    assert metrics["lpips"] == {"skipped": LPIPS_SKIP}
    assert metrics["clip_score"] == {"skipped": CLIP_SKIP}
    text = format_metrics(metrics)
    assert "lpips: skipped (no --lpips-weights given" in text and "never downloads" in text


class MeanAbsDistance(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).abs().mean(dim=(1, 2, 3))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("kind", ["torchscript", "export"])
def test_lpips_runs_from_a_local_module_file(tmp_path, kind):
    a, b = smooth_image(), smooth_image(1)
    if kind == "torchscript":
        path = tmp_path / "lpips.pt"
        torch.jit.save(torch.jit.script(MeanAbsDistance()), str(path))
    else:
        path = tmp_path / "lpips.pt2"
        example = (a.unsqueeze(0), b.unsqueeze(0))
        torch.export.save(torch.export.export(MeanAbsDistance(), example), str(path))
    metrics = QualityMetrics(lpips_weights=path).compute(a, b)
    # the module sees images in [-1, 1]: distances double
    assert metrics["lpips"] == pytest.approx(2 * (a - b).abs().mean().item(), rel=1e-5)
    assert QualityMetrics(lpips_weights=path).compute(a, a)["lpips"] == 0.0


@pytest.mark.parametrize("kwargs,message", [
    ({"lpips_weights": "/nonexistent/lpips.pt"}, "--lpips-weights: '/nonexistent/lpips.pt' is not a file"),
    ({"clip_model": "/nonexistent/clip"}, "--clip-model: '/nonexistent/clip' is not a folder"),
])
def test_missing_local_weights_are_clear_errors(kwargs, message):
    with pytest.raises(ArgumentError) as info:
        QualityMetrics(**kwargs)
    assert message in str(info.value)


def test_a_non_torchscript_lpips_file_is_a_clear_error(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"not a model")
    with pytest.raises(ArgumentError, match="not a loadable TorchScript module"):
        QualityMetrics(lpips_weights=path)


def test_clip_score_from_a_local_folder(tmp_path):
    """A tiny random CLIP saved locally: scores in [0, 100], loaded without any download."""
    transformers = pytest.importorskip("transformers")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "cat</w>": 3, "dog</w>": 4}
    tokenizer = transformers.CLIPTokenizer(vocab=vocab, merges=[])
    try:
        image_processor = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    except Exception:  # pragma: no cover - depends on the transformers build
        pytest.skip("no CLIP image processor without torchvision")
    processor = transformers.CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = transformers.CLIPConfig(
        text_config={"vocab_size": 5, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 1,
                     "pad_token_id": 1},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=8,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    metrics = QualityMetrics(clip_model=tmp_path).compute(smooth_image(), smooth_image(1), "a cat")
    score = metrics["clip_score"]
    assert set(score) == {"dense", "patched"}
    assert all(0 <= value <= 100 for value in score.values())
