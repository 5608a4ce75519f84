"""Output quality of the patched pipeline against the dense one (same seed).

* PSNR and SSIM (torchmetrics.functional; data range 1): always.
* LPIPS: only from a local module file the user names (``lpips_weights``): a ``torch.export``
  program (``.pt2``, ``torch.export.save``) or a TorchScript file (other suffixes, ``torch.jit.save``)
  taking two image batches [N, 3, H, W] in [-1, 1] and returning the distance per image, e.g.
  ``torch.jit.save(torch.jit.script(lpips.LPIPS(net="alex")), "lpips_alex.pt")``.
* CLIP score: only from a local Hugging Face CLIP folder (``clip_model``), loaded with
  ``local_files_only=True``; score = 100 * max(cosine(image, prompt), 0), torchmetrics' definition.

Nothing is ever downloaded: a metric without local weights is recorded as
``{"skipped": "<why>"}`` and named in the printed summary.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import torch

from .errors import ArgumentError

LPIPS_SKIP = "no --lpips-weights given (a local LPIPS module file); na_accel never downloads weights"
CLIP_SKIP = "no --clip-model given (a local Hugging Face CLIP folder); na_accel never downloads weights"


def as_image_batch(x: torch.Tensor) -> torch.Tensor:
    """[3, H, W], [B, 3, H, W] or videos [B, F, 3, H, W] -> [N, 3, H, W] float in [0, 1]."""
    x = x.detach().float().cpu()
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim == 5:
        x = x.flatten(0, 1)
    if x.ndim != 4:
        raise ArgumentError(f"images: expected [3,H,W], [B,3,H,W] or [B,F,3,H,W], got shape {tuple(x.shape)}")
    return x.clamp(0, 1)


def psnr(reference: torch.Tensor, other: torch.Tensor) -> float:
    from torchmetrics.functional.image import peak_signal_noise_ratio

    a, b = as_image_batch(reference), as_image_batch(other)
    if torch.equal(a, b):
        return math.inf
    return float(peak_signal_noise_ratio(b, a, data_range=1.0))


def ssim(reference: torch.Tensor, other: torch.Tensor) -> float:
    from torchmetrics.functional.image import structural_similarity_index_measure

    a, b = as_image_batch(reference), as_image_batch(other)
    return float(structural_similarity_index_measure(b, a, data_range=1.0))


class LPIPS:
    """A local LPIPS module: a torch.export program (.pt2) or a TorchScript file."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise ArgumentError(
                f"--lpips-weights: {str(path)!r} is not a file; expected an LPIPS module "
                "(torch.export .pt2 or TorchScript .pt)"
            )
        try:
            if path.suffix == ".pt2":
                self.module = torch.export.load(str(path)).module()
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, still works
                    self.module = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:  # noqa: BLE001 - torch.jit / torch.export raise many kinds
            kind = "torch.export program" if path.suffix == ".pt2" else "TorchScript module"
            raise ArgumentError(f"--lpips-weights: {str(path)!r} is not a loadable {kind}: {exc}") from None
        self.path = str(path)

    def __call__(self, reference: torch.Tensor, other: torch.Tensor) -> float:
        a, b = as_image_batch(reference) * 2 - 1, as_image_batch(other) * 2 - 1
        with torch.no_grad():
            return float(self.module(a, b).float().mean())


class CLIPScore:
    """CLIP score from a local Hugging Face CLIP folder (never downloads)."""

    def __init__(self, path: str | Path):
        from transformers import CLIPModel, CLIPProcessor

        path = Path(path)
        if not path.is_dir():
            raise ArgumentError(f"--clip-model: {str(path)!r} is not a folder; expected a local Hugging Face CLIP model")
        try:
            self.model = CLIPModel.from_pretrained(str(path), local_files_only=True).eval()
            self.processor = CLIPProcessor.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ArgumentError(f"--clip-model: cannot load a CLIP model from {str(path)!r}: {exc}") from None
        self.path = str(path)

    def __call__(self, images: torch.Tensor, prompt: str) -> float:
        batch = as_image_batch(images)
        pixels = [(image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy() for image in batch]
        inputs = self.processor(text=[prompt] * len(pixels), images=pixels, return_tensors="pt", padding=True)
        with torch.no_grad():
            image_features = self.model.get_image_features(pixel_values=inputs["pixel_values"])
            text_features = self.model.get_text_features(
                input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")
            )
        image_features = _features(image_features)
        text_features = _features(text_features)
        cosine = torch.nn.functional.cosine_similarity(image_features, text_features, dim=-1)
        return float((100 * cosine.clamp(min=0)).mean())


def _features(output: Any) -> torch.Tensor:
    """transformers 5 may return a model output instead of a tensor from get_*_features."""
    if isinstance(output, torch.Tensor):
        return output
    for name in ("pooler_output", "image_embeds", "text_embeds"):
        value = getattr(output, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"unexpected CLIP feature output {type(output).__name__}")


class QualityMetrics:
    """The metrics of one compare run; optional ones set up once (and validated) up front."""

    def __init__(self, lpips_weights: str | Path | None = None, clip_model: str | Path | None = None):
        self.lpips = LPIPS(lpips_weights) if lpips_weights else None
        self.clip = CLIPScore(clip_model) if clip_model else None

    def skipped(self) -> dict[str, str]:
        out = {}
        if self.lpips is None:
            out["lpips"] = LPIPS_SKIP
        if self.clip is None:
            out["clip_score"] = CLIP_SKIP
        return out

    def compute(self, dense: torch.Tensor, patched: torch.Tensor, prompt: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {"psnr": psnr(dense, patched), "ssim": ssim(dense, patched)}
        result["lpips"] = self.lpips(dense, patched) if self.lpips else {"skipped": LPIPS_SKIP}
        if self.clip is None:
            result["clip_score"] = {"skipped": CLIP_SKIP}
        elif not prompt:
            result["clip_score"] = {"skipped": "no prompt text to score against"}
        else:
            result["clip_score"] = {"dense": self.clip(dense, prompt), "patched": self.clip(patched, prompt)}
        return result


def format_metrics(metrics: dict[str, Any]) -> str:
    parts = []
    for name, value in metrics.items():
        if isinstance(value, dict) and "skipped" in value:
            parts.append(f"{name}: skipped ({value['skipped']})")
        elif isinstance(value, dict):
            parts.append(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in value.items()))
        else:
            parts.append(f"{name}: {value:.4f}" if math.isfinite(value) else f"{name}: {value}")
    return "\n".join(parts)
