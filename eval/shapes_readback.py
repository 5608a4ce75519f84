"""Does the picture still show what the prompt asked for? tiny-flux-shapes, dense and per recipe.

    python eval/shapes_readback.py                                    # flux_gna, every colour x position
    python eval/shapes_readback.py --recipes flux_gna tuned.yaml --seeds 0 1 --json readback.json

For each of the 54 prompts (or every Nth: ``--every``) "a <colour> <shape> <position>" (6 colours x 9 positions, each colour
with every shape), each seed: the colour and position read back from the dense picture and from each
recipe's (``na_accel.tiny.shapes.scenes.read_picture``), and PSNR vs dense. Prints one line per
run (dense and each recipe): how many pictures read back as asked, and the mean PSNR.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a checkout


def prompts() -> list[tuple[str, str, str]]:
    from na_accel.tiny.shapes.scenes import COLOURS, POSITIONS, SHAPES, Scene

    return [(Scene(colour, SHAPES[(c + p) % len(SHAPES)], position).caption(), colour, position)
            for (c, colour), (p, position) in itertools.product(enumerate(COLOURS), enumerate(POSITIONS))]


def main(argv: list[str] | None = None) -> int:
    import torch
    from tqdm import tqdm

    import na_accel
    from na_accel.tiny import tiny_flux_shapes_call, tiny_pipeline
    from na_accel.tiny.shapes.scenes import read_picture
    from na_accel.metrics import psnr

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="*", default=["flux_gna"], help="shipped names or recipe files")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--every", type=int, default=1,
                        help="every Nth of the 54 prompts (5: 11 prompts, every position and shape)")
    parser.add_argument("--steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="write every reading here")
    args = parser.parse_args(argv)

    pipe = tiny_pipeline("tiny-flux-shapes")
    cases = prompts()[::args.every]
    runs = {"dense": None, **{str(recipe): na_accel.load_recipe(recipe) for recipe in args.recipes}}
    readings = []
    for (prompt, colour, position), seed in tqdm(list(itertools.product(cases, args.seeds)), desc="prompts"):
        call = tiny_flux_shapes_call(prompt=prompt, seed=seed, steps=args.steps)
        dense = None
        for name, recipe in runs.items():
            if recipe is not None:
                na_accel.patch(pipe, recipe, backend=args.backend)
            try:
                picture = pipe(**{**call, "generator": torch.Generator().manual_seed(seed)}).images[0]
            finally:
                if recipe is not None:
                    na_accel.unpatch(pipe)
            dense = picture if recipe is None else dense
            found = read_picture(picture)
            readings.append({"run": name, "prompt": prompt, "seed": seed, "asked": [colour, position],
                             "found": list(found) if found else None,
                             "psnr_vs_dense": None if recipe is None else float(psnr(dense, picture))})
    summary = {}
    for name in runs:
        mine = [r for r in readings if r["run"] == name]
        right = sum(r["found"] == r["asked"] for r in mine)
        colour = sum(bool(r["found"]) and r["found"][0] == r["asked"][0] for r in mine)
        psnrs = [r["psnr_vs_dense"] for r in mine if r["psnr_vs_dense"] is not None]
        summary[name] = {"as_asked": right, "colour_right": colour, "pictures": len(mine),
                         "mean_psnr_vs_dense": sum(psnrs) / len(psnrs) if psnrs else None}
        psnr_text = f", mean PSNR vs dense {summary[name]['mean_psnr_vs_dense']:.1f} dB" if psnrs else ""
        print(f"{name:>24}: {right}/{len(mine)} read back as asked (colour right: {colour}){psnr_text}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "readings": readings}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
