"""What ``na-accel compare`` prints: the run, the metrics (and why PSNR is inf when nothing ran
sparse), and every output it wrote, each prompt's folder included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..metrics import format_metrics


def format_backends_used(used: dict[str, dict[str, str]]) -> str:
    """``{"transformer": {"cpu float32": "flex-fna"}}`` -> ``transformer: flex-fna (cpu float32)``."""
    parts = []
    for attribute, per_target in used.items():
        ran = ", ".join(f"{backend} ({target})" for target, backend in per_target.items())
        parts.append(f"{attribute}: {ran or 'none (no sparse call)'}")
    return "; ".join(parts) or "none"


def _file_list(files: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(what, where) per output of one prompt; skipped outputs say why."""
    rows = []
    for key, name in files.items():
        if isinstance(name, str):
            rows.append((key, prefix + name + ("/" if key.endswith("_frames") else "")))
        elif "skipped" in name:
            rows.append((key, f"skipped: {name['skipped']}"))
        else:
            rows.append((key, ", ".join(prefix + n for n in name.values())))
    return rows


def format_compare_summary(result: dict[str, Any], *, description: str, out_dir: Path,
                           written: dict[str, Path], replaced: int) -> str:
    """``description``: the model, size and seed in words; ``replaced``: files of the previous run removed."""
    calls = result["layer_calls"]
    outputs = result["outputs"]
    lines = [
        f"{description}; recipe {result['recipe']['name']} [{result['recipe']['hash']}]; "
        f"backend used: {format_backends_used(result['backend']['used'])}",
        f"attention layer calls while patched: {calls['sparse']} sparse, {calls['full_window']} full-window, "
        f"{calls['dense']} dense",
        "",
        f"Metrics ({f'average over {len(outputs)} prompts' if len(outputs) > 1 else 'patched vs dense'}):",
        "  " + format_metrics(result["averages"]).replace("\n", "\n  "),
    ]
    if result.get("note"):
        lines.append(f"NOTE: {result['note']}. The patched run computed dense attention everywhere, so these "
                     "numbers show numerical noise at most (PSNR inf when bit-identical), not what the recipe changes.")
    replaced_text = f" (replaced the previous run's {replaced} files)" if replaced else ""
    lines += ["", f"Outputs in {out_dir}/{replaced_text}:"]
    for key, path in written.items():
        lines.append(f"  {key:24} {path.name}")
    if len(outputs) == 1 and outputs[0]["folder"] == ".":
        lines += [f"  {key:24} {where}" for key, where in _file_list(outputs[0]["files"])]
    else:
        for entry in outputs:
            files = ", ".join(where for _, where in _file_list(entry["files"]) if not where.startswith("skipped"))
            lines.append(f"  {entry['folder'] + '/':24} {entry['prompt']!r}: {files}")
    return "\n".join(lines)


__all__ = ["format_backends_used", "format_compare_summary"]
