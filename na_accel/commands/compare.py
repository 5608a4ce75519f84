"""Dense vs patched outputs of the same seed: pictures, metrics JSON and (for a prompt set) an HTML report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArgumentError
from ..metrics import QualityMetrics
from ..models.loaded_models import LoadedModel, validate_size
from ..outputs.json_files import write_json
from ..outputs.output_paths import write_output
from ..outputs.report import write_html_report, write_outputs
from ..outputs.run_folder import MANIFEST, RunFolder
from ..outputs.run_summary import no_sparse_reason, patch_summary
from ..patch_report import PatchReport, describe
from ..patching import patch, unpatch
from .bench import load_recipe_for

if TYPE_CHECKING:
    import torch

# The files ``write_outputs`` may write in one comparison's folder (images or videos), relative names.
PICTURE_NAMES = ("dense.png", "patched.png", "side_by_side.png", "dense.gif", "patched.gif", "side_by_side.gif",
                 "dense.mp4", "patched.mp4", "side_by_side.mp4", "dense_frames/frame_0000.png",
                 "patched_frames/frame_0000.png")


def compare_output_names(prompts: int, html_report: bool) -> list[str]:
    """The names compare writes inside its --output-dir (checked before the run: none taken by a folder)."""
    names = ["metrics.json", MANIFEST] + (["report.html"] if html_report else [])
    if prompts == 1 and not html_report:
        return names + list(PICTURE_NAMES)
    return names + [f"prompt_{i:03d}/{name}" for i in range(prompts) for name in PICTURE_NAMES]


@dataclass
class CompareSettings:
    height: int
    width: int
    frames: int | None
    steps: int
    seed: int = 0
    progress: bool = True


@dataclass
class Comparison:
    """Every prompt's output dense and patched with ``recipe`` (same seed each), and what ran sparse."""
    model: LoadedModel
    recipe: Any
    settings: CompareSettings
    prompts: list[str]
    backend: str
    token_grid: tuple[int, ...]
    dense: list[torch.Tensor]
    patched: list[torch.Tensor]
    report: PatchReport


def generate_outputs(model: LoadedModel, settings: CompareSettings, prompts: list[str], mode: str) -> list[torch.Tensor]:
    """One output per prompt (float32, on the CPU), with the pipeline as it is now (``mode`` names the run)."""
    from tqdm.auto import tqdm

    outputs = []
    for prompt in tqdm(prompts, desc=f"{model.name} {mode}", unit="prompt", disable=not settings.progress, leave=False):
        output = model.generate(prompt=prompt, seed=settings.seed, height=settings.height, width=settings.width,
                                frames=settings.frames, steps=settings.steps, batch=1)
        outputs.append(output[0].float().cpu())
    return outputs


def generate_patched(model: LoadedModel, recipe: Any, settings: CompareSettings, prompts: list[str],
                     backend: str) -> tuple[list[torch.Tensor], PatchReport]:
    """Every prompt's output with ``recipe`` patched in on ``backend``, and the report of that run; the
    pipeline is unpatched again whatever happens."""
    patch(model.pipe, recipe, backend=backend)
    try:
        outputs = generate_outputs(model, settings, prompts, f"patched ({backend})" if backend != "auto" else "patched")
        return outputs, describe(model.pipe)
    finally:
        unpatch(model.pipe)


def generate_comparison(model: LoadedModel, recipe: Any, settings: CompareSettings, prompts: list[str], *,
                        backend: str = "auto") -> Comparison:
    """Check the size and the recipe's family, then generate every prompt dense, then patched."""
    grid = validate_size(model, settings.height, settings.width, settings.frames)
    recipe = load_recipe_for(recipe, model.family, model.name)
    if not model.outputs_pixels:
        raise ArgumentError(
            f"compare: {model.name} with --random-weights has no VAE and outputs latents; compare a tiny "
            "preset or real weights (bench measures random-weight models)"
        )
    dense = generate_outputs(model, settings, prompts, "dense")
    patched, report = generate_patched(model, recipe, settings, prompts, backend)
    return Comparison(model, recipe, settings, list(prompts), backend, grid, dense, patched, report)


def run_compare(
    model: LoadedModel,
    recipe: Any,
    settings: CompareSettings,
    prompts: list[str],
    out_dir: Path | RunFolder,
    *,
    metrics: QualityMetrics | None = None,
    backend: str = "auto",
    html_report: bool = False,
) -> dict[str, Any]:
    """Generate every prompt dense, then patched (same seed), and write the pictures (``write_compare``
    writes metrics.json and report.html). The files of the previous run in ``out_dir`` are removed
    first (``RunFolder``); anything else there is left alone."""
    comparison = generate_comparison(model, recipe, settings, prompts, backend=backend)
    return write_comparison(comparison, out_dir, metrics=metrics, html_report=html_report)


def write_comparison(comparison: Comparison, out_dir: Path | RunFolder, *, metrics: QualityMetrics | None = None,
                     html_report: bool = False) -> dict[str, Any]:
    """The metrics of every prompt and their average, the pictures written (``write_outputs``), and
    what ran: compare's result (``write_compare`` writes it as metrics.json)."""
    folder = out_dir if isinstance(out_dir, RunFolder) else RunFolder(out_dir, "compare")
    out_dir = folder.path
    metrics = metrics or QualityMetrics()
    prompts, recipe, grid = comparison.prompts, comparison.recipe, comparison.token_grid
    labels = ("dense", f"GNA ({recipe.name})", "|difference|")

    # The metrics first, so a write that fails below (a full disk) still reports them.
    entries = []
    for index, (prompt, dense, patched) in enumerate(zip(prompts, comparison.dense, comparison.patched)):
        prompt_dir = out_dir if len(prompts) == 1 and not html_report else out_dir / f"prompt_{index:03d}"
        entries.append({
            "prompt": prompt,
            "folder": prompt_dir.relative_to(out_dir).as_posix() if prompt_dir != out_dir else ".",
            "files": None,
            "metrics": metrics.compute(dense, patched, prompt),
        })
    averages = average_metrics([entry["metrics"] for entry in entries])

    def write_pictures() -> None:
        folder.clear_previous()
        for entry, dense, patched in zip(entries, comparison.dense, comparison.patched):
            written: list[Path] = []
            try:
                entry["files"] = write_outputs(out_dir / entry["folder"], dense, patched, written, labels=labels)
            finally:
                folder.record(written)

    measured = {"token_grid": list(grid), "outputs": entries, "averages": averages}
    write_output("--output-dir", out_dir, write_pictures, result=measured)
    summary = patch_summary(recipe, comparison.report, comparison.backend, runs=len(prompts))
    result: dict[str, Any] = {
        "token_grid": list(grid),
        **summary,
        # Why patched equals dense (PSNR inf) when no attention call ran sparse, as bench says it.
        "note": None if summary["layer_calls"]["sparse"] else no_sparse_reason(recipe, comparison.settings.steps),
        "outputs": entries,
        "averages": averages,
        "skipped_metrics": metrics.skipped(),
        "output_dir": str(out_dir),
    }
    if html_report:
        result["report"] = "report.html"
    return result


def average_metrics(per_prompt: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of every numeric metric (and of each number inside CLIP's dense / patched); skips stay skips."""
    averages: dict[str, Any] = {}
    for name, first in per_prompt[0].items():
        if isinstance(first, dict) and "skipped" in first:
            averages[name] = first
        elif isinstance(first, dict):
            averages[name] = {k: _mean([m[name][k] for m in per_prompt]) for k in first}
        else:
            averages[name] = _mean([m[name] for m in per_prompt])
    return averages


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)  # inf (identical outputs) in any prompt keeps the mean inf


def write_compare(result: dict[str, Any], out_dir: Path | RunFolder, title: str,
                  header: dict[str, Any]) -> dict[str, Path]:
    """metrics.json and (for a prompt set) the self-contained report.html, recorded as this run's."""
    folder = out_dir if isinstance(out_dir, RunFolder) else RunFolder(out_dir, "compare")
    written: dict[str, Path] = {}

    def write() -> None:
        try:
            written["metrics"] = write_json(folder.path / "metrics.json", result)
            if result.get("report"):
                written["report"] = write_html_report(
                    folder.path / result["report"], title, header, result["outputs"], result["averages"],
                    result["skipped_metrics"],
                )
        finally:
            folder.record(written.values())

    write_output("--output-dir", folder.path, write, result=result)
    return written
