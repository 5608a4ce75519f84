"""Speed suite: models x resolutions x recipes through `na-accel bench` -> one JSON and a markdown table.

    python eval/speed_suite.py                                        # CPU smoke run on tiny-flux
    python eval/speed_suite.py --models flux-dev --resolutions 1024x1024 2048x2048 4096x4096 \\
        --recipes flux_gna --device cuda --dtype bfloat16 --steps 28 --output-dir speed_h100
    python eval/speed_suite.py --models hunyuan-video --resolutions 720x1280x129 \\
        --recipes hunyuan_video_gna --device cuda --dtype bfloat16 --steps 50

Every cell is one `na-accel bench` run (its JSON kept in --output-dir/runs/); shipped architecture
configs (`na-accel models`: flux-dev, flux2-dev, qwen-image, hunyuan-video, hunyuan-video15,
cosmos-7b, wan-14b) run with --random-weights. A recipe for
another model family than the model is skipped (and listed). Sizes are HEIGHTxWIDTH or
HEIGHTxWIDTHxFRAMES. CPU timings say nothing about GPU speed; the table names the device.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout

from na_accel.cli import main as na_accel_main  # noqa: E402
from na_accel.recipe import load_recipe  # noqa: E402
from na_accel.models.zoo import MODELS  # noqa: E402


def parse_size(text: str) -> tuple[int, int, int | None]:
    parts = text.lower().split("x")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise SystemExit(f"speed_suite: --resolutions: {text!r} is not HEIGHTxWIDTH or HEIGHTxWIDTHxFRAMES")
    height, width = int(parts[0]), int(parts[1])
    return height, width, int(parts[2]) if len(parts) == 3 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["tiny-flux"])
    parser.add_argument("--resolutions", nargs="+", default=["128x160", "256x320"])
    parser.add_argument("--recipes", nargs="+", default=["flux_gna"])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--output-dir", type=Path, default=Path("na_accel_outputs/speed_suite"))
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further `na-accel bench` arguments, e.g. --extra --config-override num_layers=4")
    args = parser.parse_args(argv)

    sizes = [parse_size(text) for text in args.resolutions]
    rows, skipped, failed = [], [], []
    for model in args.models:
        for recipe in args.recipes:
            family = MODELS[model].family if model in MODELS else None
            recipe_family = load_recipe(recipe).model
            if family is not None and family != recipe_family:
                skipped.append(f"{model} x {recipe}: recipe is for {recipe_family!r}, the model is {family!r}")
                continue
            for height, width, frames in sizes:
                label = f"{height}x{width}" + (f"x{frames}" if frames else "")
                path = args.output_dir / "runs" / f"{model.replace('/', '_')}-{Path(recipe).stem}-{label}.json"
                argv_bench = ["bench", model, "--recipe", recipe, "--height", str(height), "--width", str(width),
                              "--warmup", str(args.warmup), "--repeats", str(args.repeats), "--batch",
                              str(args.batch), "--dtype", args.dtype, "--device", args.device, "--backend",
                              args.backend, "--json", str(path), *args.extra]
                if frames:
                    argv_bench += ["--frames", str(frames)]
                if args.steps:
                    argv_bench += ["--steps", str(args.steps)]
                if model in MODELS and MODELS[model].config_file:
                    argv_bench.append("--random-weights")
                print(f"== na-accel {' '.join(argv_bench)}", file=sys.stderr)
                table = io.StringIO()
                with redirect_stdout(table):
                    code = na_accel_main(argv_bench)
                if code != 0:
                    failed.append(f"{model} x {recipe} x {label}: exit {code}")
                    continue
                rows.append(json.loads(path.read_text()))

    args.output_dir.mkdir(parents=True, exist_ok=True)
    summary = {"rows": rows, "skipped": skipped, "failed": failed}
    (args.output_dir / "speed_suite.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.output_dir / "speed_suite.md").write_text(markdown_table(rows, skipped, failed))
    print(markdown_table(rows, skipped, failed))
    print(f"Wrote {args.output_dir / 'speed_suite.json'} and {args.output_dir / 'speed_suite.md'}")
    return 1 if failed else 0


def markdown_table(rows: list[dict], skipped: list[str], failed: list[str]) -> str:
    lines = [
        "| model | size | token grid | recipe | backend | device | dense s | patched s | speedup | "
        "attention share dense / patched | sparse / full-window / dense layer calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = set()
    for row in rows:
        arguments, runs = row["arguments"], row["runs"]
        size = f"{arguments['height']}x{arguments['width']}" + (f"x{arguments['frames']}" if arguments.get("frames") else "")
        backends = sorted({b for used in row["backend"]["used"].values() for b in used.values()})
        calls = row["layer_calls"]
        speedup = "-" if row["speedup"] is None else f"{row['speedup']:.2f}x"
        if row.get("speedup_note"):
            notes.add(row["speedup_note"])
        lines.append(
            f"| {row['model']['name']} | {size} | {'x'.join(map(str, row['token_grid']))} | "
            f"{row['recipe']['name']} | {', '.join(backends) or '-'} | {row['device']['name']} | "
            f"{runs['dense']['median_s']:.4f} | {runs['patched']['median_s']:.4f} | {speedup} | "
            f"{runs['dense']['attention_share']:.0%} / {runs['patched']['attention_share']:.0%} | "
            f"{calls['sparse']} / {calls['full_window']} / {calls['dense']} |"
        )
        if row["device"]["note"]:
            notes.add(row["device"]["note"])
    lines.append("")
    lines += [f"Note: {note}." for note in sorted(notes)]
    lines += [f"Skipped: {item}" for item in skipped]
    lines += [f"FAILED: {item}" for item in failed]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
