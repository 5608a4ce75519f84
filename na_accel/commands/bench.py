"""Timing: the same generation dense and patched, warm-up apart, N synchronized repeats.

Per mode (dense, and patched with the recipe): ``warmup`` runs (compilation, autotuning, mask
building; timed and reported apart), then ``repeats`` timed runs, alternating between the modes
(dense-patched, patched-dense, ...) so drift falls on both. Each run is timed end to end
with the device synchronized before and after; inside it, forward hooks time every transformer
call (grouped by the scheduler's step into per-step times) and every attention layer call (the
module's forward, i.e. the processor with its projections) the same way in both modes. On CUDA
these inner timers are CUDA events; on the CPU ``time.perf_counter``.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from ..families import registry as family_registry
from ..inputs.prompts import DEFAULT_PROMPT
from ..models.loaded_models import LoadedModel, validate_size
from ..outputs.run_summary import no_sparse_reason, patch_summary
from ..patch_report import describe
from ..patching import patch, unpatch
from ..recipe.model import Recipe
from ..recipe.parse import load_recipe
from ..runtime import denoising_step
from ..version import __version__
from ..windows import format_axes

CPU_NOTE = ("CPU timings say nothing about GPU speed: NATTEN's CPU path (flex-fna, unfused) materializes "
            "the score matrix; measure speedups on a GPU with NATTEN's fused kernels")
CPU_MEMORY_NOTE = "peak memory is measured on CUDA devices only (torch.cuda.max_memory_allocated)"
MODES = ("dense", "patched")


class Clock:
    """Marks and elapsed seconds: CUDA events on a CUDA device, perf_counter elsewhere."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"

    def mark(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record(torch.cuda.current_stream(self.device))  # the model's GPU, not the current one
            return event
        return time.perf_counter()

    def seconds(self, start, end) -> float:
        return start.elapsed_time(end) / 1000.0 if self.cuda else end - start

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)


def attention_modules(transformer: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The attention layers GNA may replace (the adapter's): self attention only, so the measured
    share is the part a recipe can speed up (cross attention and text refiners are excluded)."""
    from ..families import adapter_for

    return list(adapter_for(transformer).attention_layers(transformer))


@dataclass
class Instruments:
    """Forward hooks that time transformer calls (with their step) and the calls of the attention
    layers GNA may replace (each layer's whole forward: projections, norms and RoPE included)."""

    model: LoadedModel
    clock: Clock
    calls: list = field(default_factory=list)  # (step, start, end)
    attention: list = field(default_factory=list)  # (start, end)
    _handles: list = field(default_factory=list)
    _open: dict = field(default_factory=dict)

    def __post_init__(self):
        self.attention_layers = 0
        for transformer in self.model.transformers:
            self._handles.append(transformer.register_forward_pre_hook(self._transformer_start))
            self._handles.append(transformer.register_forward_hook(self._transformer_end, always_call=True))
            for _, module in attention_modules(transformer):
                self._handles.append(module.register_forward_pre_hook(self._attention_start))
                self._handles.append(module.register_forward_hook(self._attention_end, always_call=True))
            self.attention_layers += len(attention_modules(transformer))

    def _step(self) -> int | None:
        return denoising_step(self.model.pipe)

    def _transformer_start(self, module, args):
        self._open["transformer"] = (self._step(), self.clock.mark())

    def _transformer_end(self, module, args, output):
        step, start = self._open.pop("transformer")
        self.calls.append((step, start, self.clock.mark()))

    def _attention_start(self, module, args):
        self._open[id(module)] = self.clock.mark()

    def _attention_end(self, module, args, output):
        self.attention.append((self._open.pop(id(module)), self.clock.mark()))

    def reset(self) -> None:
        self.calls, self.attention, self._open = [], [], {}

    def collect(self) -> dict[str, Any]:
        """After a synchronized run: per-step transformer seconds and total attention seconds."""
        per_step: dict[int, float] = {}
        for index, (step, start, end) in enumerate(self.calls):
            key = index if step is None else step
            per_step[key] = per_step.get(key, 0.0) + self.clock.seconds(start, end)
        return {
            "per_step_s": [per_step[k] for k in sorted(per_step)],
            "transformer_s": sum(per_step.values()),
            "transformer_calls": len(self.calls),
            "attention_s": sum(self.clock.seconds(s, e) for s, e in self.attention),
            "attention_calls": len(self.attention),
        }

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@dataclass
class BenchSettings:
    height: int
    width: int
    frames: int | None
    steps: int
    batch: int = 1
    warmup: int = 1
    repeats: int = 3
    seed: int = 0
    prompt: str = DEFAULT_PROMPT
    progress: bool = True


def load_recipe_for(recipe: Any, family: str, model_name: str) -> Recipe:
    """The loaded recipe, if it is for ``family`` (the model's), else a RecipeError saying so."""
    recipe = load_recipe(recipe)
    family_registry.check_recipe_family(recipe.model, family, f"--recipe: {recipe.name or '<inline>'}", model_name)
    return recipe


def run_bench(model: LoadedModel, recipe: Any, settings: BenchSettings, *, backend: str = "auto") -> dict[str, Any]:
    """Time ``model`` dense and patched with ``recipe``; returns the JSON-ready result.

    Warm-ups run first (dense, then patched); the timed repeats then alternate between the modes
    (dense-patched, patched-dense, ...) so that drift (clocks, caches, allocator) falls on both.
    """
    from tqdm.auto import tqdm

    grid = validate_size(model, settings.height, settings.width, settings.frames, settings.batch)
    recipe = load_recipe_for(recipe, model.family, model.name)
    device = next(model.transformer.parameters()).device
    clock = Clock(device)
    records: dict[str, dict[str, list]] = {mode: {"warmup": [], "repeats": []} for mode in MODES}
    outputs: dict[str, torch.Tensor] = {}
    peak_memory: dict[str, int] = {}
    totals: Counter = Counter()
    report = None

    schedule = [(mode, "warmup") for mode in MODES for _ in range(settings.warmup)]
    for index in range(settings.repeats):
        schedule += [(mode, "repeats") for mode in (MODES if index % 2 == 0 else MODES[::-1])]
    instruments = Instruments(model, clock)
    try:
        with tqdm(total=len(schedule), desc=f"{model.name} dense/patched", unit="run",
                  disable=not settings.progress, leave=False) as bar:
            for mode, phase in schedule:
                if mode == "patched":
                    patch(model.pipe, recipe, backend=backend)
                try:
                    outputs[mode], record, peak = _run_once(model, settings, clock, instruments, phase == "repeats")
                    if mode == "patched":
                        report = describe(model.pipe)
                        for transformer_report in report.transformers:
                            totals.update(transformer_report.totals)
                finally:
                    if mode == "patched":
                        unpatch(model.pipe)
                records[mode][phase].append(record)
                if peak is not None:
                    peak_memory[mode] = max(peak_memory.get(mode, 0), peak)
                bar.update(1)
    finally:
        instruments.remove()

    result: dict[str, Any] = {
        "runs": {mode: _summarize(records[mode], peak_memory.get(mode), instruments.attention_layers, clock.cuda)
                 for mode in MODES}
    }
    dense, patched = result["runs"]["dense"], result["runs"]["patched"]
    summary = patch_summary(recipe, report, backend, runs=settings.warmup + settings.repeats, totals=totals)
    sparse_calls = summary["layer_calls"]["sparse"]
    result.update(
        token_grid=list(grid),
        tokens=math.prod(grid),
        **summary,
        # A ratio of two dense runs is noise, not a speedup: none is reported.
        speedup=dense["median_s"] / patched["median_s"] if sparse_calls and patched["median_s"] > 0 else None,
        speedup_note=None if sparse_calls else no_sparse_reason(recipe, settings.steps),
        output_max_abs_diff=float((outputs["dense"] - outputs["patched"]).abs().max()),
        run_order=[f"{mode} {phase}" for mode, phase in schedule],
    )
    return result


def _run_once(model: LoadedModel, settings: BenchSettings, clock: Clock, instruments: "Instruments", timed: bool):
    """One synchronized generation: (output on the CPU, timings, peak memory in bytes or None)."""
    if timed and clock.cuda:
        torch.cuda.reset_peak_memory_stats(clock.device)
    instruments.reset()
    clock.sync()
    start = time.perf_counter()
    output = model.generate(
        prompt=settings.prompt, seed=settings.seed, height=settings.height, width=settings.width,
        frames=settings.frames, steps=settings.steps, batch=settings.batch,
    )
    clock.sync()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(clock.device) if timed and clock.cuda else None
    return output.float().cpu(), {"total_s": seconds, **instruments.collect()}, peak


def _summarize(records: dict[str, list], peak_memory: int | None, attention_layers: int, cuda: bool) -> dict[str, Any]:
    repeats = records["repeats"]
    totals = [r["total_s"] for r in repeats]
    summary = {
        "warmup": records["warmup"],
        "repeats": repeats,
        "median_s": statistics.median(totals),
        "min_s": min(totals),
        "max_s": max(totals),
        "iqr_s": _iqr(totals),
        "per_step_median_s": [statistics.median(step) for step in zip(*(r["per_step_s"] for r in repeats))],
        "attention_median_s": statistics.median(r["attention_s"] for r in repeats),
        "attention_share": statistics.median(
            r["attention_s"] / r["total_s"] if r["total_s"] > 0 else 0.0 for r in repeats
        ),
        "attention_layers": attention_layers,
        "peak_memory_bytes": peak_memory if cuda else None,
    }
    if not cuda:
        summary["peak_memory_note"] = CPU_MEMORY_NOTE
    return summary


def _iqr(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return quartiles[2] - quartiles[0]


def device_info(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return {"type": "cuda", "name": torch.cuda.get_device_name(index), "note": None}
    return {"type": device.type, "name": _cpu_name(), "note": CPU_NOTE if device.type == "cpu" else None}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def versions() -> dict[str, str | None]:
    """Versions of what a measurement depends on, from the installed packages' metadata (nothing is
    imported); None for a package that is not installed (the kernel benchmarks run without diffusers)."""
    return {
        "na_accel": __version__,
        "torch": torch.__version__,
        "diffusers": _module_version("diffusers"),
        "natten": _module_version("natten"),
        "triton": _module_version("triton"),
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
    }


def _module_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def format_table(result: dict[str, Any]) -> str:
    """The human-readable summary printed by ``na-accel bench``."""
    device = result["device"]
    lines = [
        f"model {result['model']['name']} ({result['model']['source']}, {result['model']['transformer_class']}, "
        f"{result['model']['parameters'] / 1e6:,.1f}M params, {result['model']['dtype']}), token grid "
        f"{format_axes(result['token_grid'])}, {result['arguments']['steps']} steps, "
        f"batch {result['arguments']['batch']}",
        f"device {device['type']} ({device['name']}); recipe {result['recipe']['name']} [{result['recipe']['hash']}]; "
        f"backend {result['backend']['requested']} -> {result['backend']['resolved']}",
        "",
        f"{'':8} {'median s':>10} {'min s':>9} {'max s':>9} {'IQR s':>8} {'step s':>9} {'attn share':>10} "
        f"{'warm-up s':>10} {'peak mem':>10}",
    ]
    for mode in ("dense", "patched"):
        run = result["runs"][mode]
        steps = run["per_step_median_s"]
        step = statistics.median(steps) if steps else float("nan")
        warm = ", ".join(f"{w['total_s']:.3f}" for w in run["warmup"]) or "-"
        memory = "n/a" if run["peak_memory_bytes"] is None else f"{run['peak_memory_bytes'] / 2**30:.2f} GiB"
        lines.append(
            f"{mode:8} {run['median_s']:>10.4f} {run['min_s']:>9.4f} {run['max_s']:>9.4f} {run['iqr_s']:>8.4f} "
            f"{step:>9.4f} {run['attention_share']:>10.1%} {warm:>10} {memory:>10}"
        )
    calls = result["layer_calls"]
    speedup = result["speedup"]
    lines += [
        "",
        f"speedup (dense median / patched median): {speedup:.2f}x" if speedup
        else f"speedup: none reported: {result.get('speedup_note') or 'n/a'}",
        f"attention layer calls while patched ({calls['runs_counted']} runs): {calls['sparse']} sparse, "
        f"{calls['full_window']} full-window, {calls['dense']} dense"
        + (f" ({', '.join(f'{k}: {v}' for k, v in calls['dense_by_reason'].items())})" if calls["dense_by_reason"] else ""),
        f"output max |dense - patched|: {result['output_max_abs_diff']:.3e}",
    ]
    if device["note"]:
        lines.append(f"NOTE: {device['note']}.")
    return "\n".join(lines)
