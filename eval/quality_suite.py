"""Quality suite: a prompt set through `na-accel compare` for each recipe -> HTML reports and an index.

    python eval/quality_suite.py                                      # tiny-flux, CPU, the shipped prompts
    python eval/quality_suite.py --model /weights/FLUX.1-dev --recipes flux_gna \\
        --device cuda --dtype bfloat16 --height 1024 --width 1024 --steps 28 \\
        --extra --lpips-weights lpips_alex.pt --clip-model /weights/clip-vit-large-patch14

Each recipe gets --output-dir/<recipe>/report.html (every prompt's pictures and numbers, and the
averages) from one `na-accel compare --prompt-file` run; index.html and quality_suite.json sum
them up.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout

from na_accel.cli import main as na_accel_main  # noqa: E402

from na_accel.inputs.prompts import SHIPPED_PROMPTS as PROMPTS  # noqa: E402 (shipped with the package)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny-flux")
    parser.add_argument("--recipes", nargs="+", default=["flux_gna"])
    parser.add_argument("--prompt-file", type=Path, default=PROMPTS)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--output-dir", type=Path, default=Path("na_accel_outputs/quality_suite"))
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further `na-accel compare` arguments, e.g. --extra --lpips-weights lpips.pt")
    args = parser.parse_args(argv)

    results, failed = {}, []
    for recipe in args.recipes:
        out_dir = args.output_dir / Path(recipe).stem
        argv_compare = ["compare", args.model, "--recipe", recipe, "--prompt-file", str(args.prompt_file),
                        "--seed", str(args.seed), "--dtype", args.dtype, "--device", args.device,
                        "--backend", args.backend, "--output-dir", str(out_dir), *args.extra]
        for name in ("height", "width", "frames", "steps"):
            if getattr(args, name) is not None:
                argv_compare += [f"--{name}", str(getattr(args, name))]
        print(f"== na-accel {' '.join(argv_compare)}", file=sys.stderr)
        with redirect_stdout(io.StringIO()):
            code = na_accel_main(argv_compare)
        if code != 0:
            failed.append(f"{recipe}: exit {code}")
            continue
        metrics = json.loads((out_dir / "metrics.json").read_text())
        results[Path(recipe).stem] = {"averages": metrics["averages"], "report": f"{Path(recipe).stem}/report.html",
                                      "prompts": len(metrics["outputs"]), "recipe": metrics["recipe"]}

    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "quality_suite.json").write_text(
        json.dumps({"model": args.model, "results": results, "failed": failed}, indent=2) + "\n")
    index = args.output_dir / "index.html"
    index.write_text(index_page(args.model, results, failed))
    for name, result in results.items():
        numbers = ", ".join(f"{k} {v}" for k, v in result["averages"].items() if not isinstance(v, dict))
        print(f"{name}: {result['prompts']} prompts, average {numbers} -> {args.output_dir / result['report']}")
    print(f"Wrote {index}")
    return 1 if failed else 0


def index_page(model: str, results: dict, failed: list[str]) -> str:
    rows = []
    for name, result in results.items():
        numbers = "".join(
            f"<td>{'skipped' if isinstance(v, dict) and 'skipped' in v else html.escape(str(v))}</td>"
            for v in result["averages"].values()
        )
        rows.append(f'<tr><td><a href="{html.escape(result["report"])}">{html.escape(name)}</a></td>'
                    f"<td>{result['prompts']}</td>{numbers}</tr>")
    head = ""
    if results:
        head = "".join(f"<th>{html.escape(k)}</th>" for k in next(iter(results.values()))["averages"])
    failures = "".join(f"<li>FAILED: {html.escape(item)}</li>" for item in failed)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>quality suite: {html.escape(model)}</title>"
            f"</head><body><h1>Quality suite: {html.escape(model)}</h1><p>Averages over the prompt set, "
            f"patched vs dense of the same seed.</p><table border='1'><tr><th>recipe</th><th>prompts</th>{head}"
            f"</tr>{''.join(rows)}</table><ul>{failures}</ul></body></html>\n")


if __name__ == "__main__":
    raise SystemExit(main())
