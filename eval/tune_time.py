"""How long ``na_accel.tune`` takes against a plain dense run of the same generations.

    python eval/tune_time.py tiny-flux --recipe flux_gna --height 512 --width 512 --steps 4
    python eval/tune_time.py flux-dev --random-weights --recipe flux_gna --height 1024 --width 1024 --steps 28 \
        --device cuda --dtype bfloat16 --config-override num_layers=4 --config-override num_single_layers=8 \
        --json tune-flux-1024.json

Times (device synchronized) the prompts generated dense, then the tune of the same prompts, steps
and size. The tune's extra work (its error measurements inside every attention call) scales with
the attention layers, so a run with layers cut (``--config-override``) says ``seconds_per_layer``:
times the full model's layer count, plus the dense run, is a full tune's time. Random weights are
fine for timing (the work does not depend on the weights), not for the recipe it writes. Writes JSON
with the device, versions, command and numbers (``--json``); prints one line.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runnable from a checkout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=1, help="how many shipped prompts (default: %(default)s)")
    parser.add_argument("--max-error", type=float, default=0.05)
    parser.add_argument("--max-query-rows", type=int, default=1024)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--config-override", action="append", metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    import na_accel
    from na_accel.cli.arguments import parse_overrides
    from na_accel.commands.bench import device_info, versions
    from na_accel.outputs.json_files import write_json
    from na_accel.inputs.prompts import SHIPPED_PROMPTS, read_prompts
    from na_accel.models.zoo import load_model

    model = load_model(args.model, random_weights=args.random_weights, device=args.device, dtype=args.dtype,
                       seed=0, config_overrides=parse_overrides(args.config_override), text_len=None)
    device = next(model.transformer.parameters()).device
    prompts = read_prompts(SHIPPED_PROMPTS)[:args.prompts]
    frames = args.frames if model.is_video else None

    def generate(prompt: str):
        return model.generate(prompt=prompt, seed=0, height=args.height, width=args.width, frames=frames,
                              steps=args.steps, batch=1)

    def timed(run) -> tuple[float, object]:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start, out

    generate(prompts[0])  # warm-up: first-call costs (kernels, allocator) are not the tune's
    dense_s, _ = timed(lambda: [generate(p) for p in prompts])
    tune_s, result = timed(lambda: na_accel.tune(
        model.pipe, args.recipe, max_error=args.max_error, prompts=prompts, generate=generate, steps=args.steps,
        backend=args.backend, max_query_rows=args.max_query_rows or None, progress=False))
    layers = len(result.layers)
    calls = layers * args.steps * len(prompts)
    out = {
        "command": "python eval/tune_time.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "device": device_info(device), "versions": versions(), "model": model.info(),
        "size": {"height": args.height, "width": args.width, "frames": frames, "token_grid": list(result.grid or ())},
        "steps": args.steps, "prompts": len(prompts), "measured_layers": layers,
        "candidates_per_layer": max((len(layer.candidates) for layer in result.layers), default=0),
        "query_rows": result.query_rows,
        "dense_s": dense_s, "tune_s": tune_s, "tune_over_dense": tune_s / dense_s,
        "seconds_per_layer": (tune_s - dense_s) / layers if layers else None,
        "seconds_per_layer_call": (tune_s - dense_s) / calls if calls else None,
        "estimated_attention_speedup_of_the_recipe": 1 / result.selection.relative_cost,
    }
    if args.json is not None:
        write_json(args.json, out)
    print(json.dumps({k: out[k] for k in ("dense_s", "tune_s", "tune_over_dense", "measured_layers",
                                          "seconds_per_layer")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
