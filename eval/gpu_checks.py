"""GPU numerics of na_accel's Triton kernel beyond eval/verify_backend.py, each against the reference.

    python eval/gpu_checks.py --json gpu-checks.json          # on a CUDA GPU (about a minute on an H100)
    python eval/gpu_checks.py --cases fp16,repeat             # some cases only (--list names them)
    python eval/gpu_checks.py --smoke --json /tmp/checks.json # CPU dry run: TRITON_INTERPRET=1, tiny sizes

verify_backend.py runs 8 small cases: tiles of at most 128 tokens, contiguous q/k/v, one head_dim,
text first, every text key valid. These cases cover what it does not, each through the public entry
point ``na_accel.kernels.joint.gna_joint_attention(backend="triton")`` (text rows fused into the
kernel's launch) against ``backend="reference"`` (explicit mask, float32, at most 16384 tokens):

  big-tiles-2d        96x160 + 512 text first, window 40x48 / 8x16: the largest tiles, batch 2, padded text
  video-text-last     8x32x48 + 256 text AFTER the video (HunyuanVideo's order), padded text
  long-text-last      8x24x32 + 1985 text last (HunyuanVideo 1.5's prompt length)
  long-text-first     32x48 + 2048 text first: more text programs than visual tiles in a row
  padded-text         batch 3, valid text lengths (all, 1, 0): a row with a single and with no text key
  fused-qkv-views     q, k, v split from one [B, S, 3*H*D + MLP] projection (FLUX.2 single blocks)
  head-major          q, k, v as [B, H, S, D] transposed (Cosmos), text last
  head-dim-64/80/96   other head sizes (80, 96: channels masked up to BLOCK_D)
  fp16, fp32          the other dtypes (fp32: IEEE dots)
  offsets-64          strided views whose token offsets pass 2**31 (a 4.3 GB buffer): the 64-bit path
  poisoned-out        the output's memory block filled with NaN beforehand: every row written?
  repeat              the same call twice, bit-equal (a result that moves is a race)
  flux-4k-sampled     the published 256x256 + 512 FLUX case (24 x 128): 1024 sampled rows against a
  hunyuan-video-sampled   float32 masked attention of those rows (too big for the reference backend)

Errors over all rows (text rows included), as the reference's largest magnitude scales them:
``rel_max`` = max|out - ref| / max|ref| against verify_backend.py's tolerance for the dtype, and
``rel_fro`` = ||out - ref|| / ||ref||; both must pass and the output be finite. Launches run with
NA_ACCEL_TRITON_AUTOTUNE=0 (one launch configuration per shape, unless the environment says
otherwise), as the GPU suite's numerics stage does. A failing case is recorded and the next one
runs; the JSON is rewritten after every case, so a run stopped by a timeout keeps what it finished.

Exit status: 0 every case passed, 1 a case failed, 2 bad arguments or no CUDA device (without --smoke).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import shlex
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# verify_backend.py's tolerance (max error over the reference's max magnitude), and one on the
# Frobenius norm of the error (a wrong row among thousands hides in the max of a large output).
TOLERANCE_MAX = {"float32": 1e-5, "float16": 5e-3, "bfloat16": 2e-2}
TOLERANCE_FRO = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1e-2}
INT32_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class Case:
    """One check: a joint sequence (grid + text), its window, and how the inputs are laid out."""

    name: str
    grid: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    text: int
    text_first: bool = True
    batch: int = 1
    heads: int = 2
    head_dim: int = 128
    dtype: str = "bfloat16"
    valid: tuple[int, ...] | None = None  # valid text lengths per batch row (None: all valid)
    layout: str = "contiguous"  # contiguous | fused-qkv | head-major | offsets-64
    check: str = "reference"  # reference | poisoned | repeat | sampled
    smoke: dict = field(default_factory=dict, compare=False)  # the fields changed for --smoke

    @property
    def tokens(self) -> int:
        return math.prod(self.grid) + self.text


SMALL = dict(heads=1, head_dim=32)
CASES = [
    Case("big-tiles-2d", (96, 160), (40, 48), (8, 16), 512, batch=2, valid=(512, 301),
         smoke=dict(grid=(12, 20), kernel=(5, 6), stride=(1, 2), text=16, valid=(16, 9), **SMALL)),
    Case("video-text-last", (8, 32, 48), (6, 16, 24), (2, 8, 8), 256, text_first=False, batch=2, valid=(256, 97),
         smoke=dict(grid=(3, 8, 12), kernel=(2, 4, 6), stride=(1, 2, 2), text=8, valid=(8, 3), **SMALL)),
    Case("long-text-last", (8, 24, 32), (4, 12, 16), (2, 4, 8), 1985, text_first=False, batch=2, valid=(1985, 1000),
         smoke=dict(grid=(2, 6, 8), kernel=(2, 3, 4), stride=(1, 1, 2), text=40, valid=(40, 20), **SMALL)),
    Case("long-text-first", (32, 48), (12, 16), (4, 8), 2048, batch=2, valid=(2048, 1333),
         smoke=dict(grid=(6, 8), kernel=(3, 4), stride=(1, 2), text=72, valid=(72, 41), **SMALL)),
    Case("padded-text", (48, 64), (16, 16), (4, 8), 256, batch=3, valid=(256, 1, 0),
         smoke=dict(grid=(8, 12), kernel=(4, 6), stride=(2, 2), text=16, valid=(16, 1, 0), **SMALL)),
    Case("fused-qkv-views", (48, 64), (16, 16), (4, 8), 77, batch=2, heads=4, valid=(77, 40), layout="fused-qkv",
         smoke=dict(grid=(8, 12), kernel=(4, 6), stride=(2, 2), text=8, valid=(8, 5), heads=2, head_dim=32)),
    Case("head-major", (4, 24, 32), (2, 12, 16), (1, 4, 8), 128, text_first=False, batch=2, layout="head-major",
         smoke=dict(grid=(2, 6, 8), kernel=(2, 3, 4), stride=(1, 1, 2), text=8, heads=2, head_dim=32)),
    *(Case(f"head-dim-{hd}", (32, 48), (12, 16), (4, 8), 64, head_dim=hd,
           smoke=dict(grid=(8, 12), kernel=(4, 6), stride=(2, 2), text=8, heads=1)) for hd in (64, 80, 96)),
    *(Case(name, (32, 48), (12, 16), (4, 8), 64, batch=2, dtype=dtype, valid=(64, 32),
           smoke=dict(grid=(8, 12), kernel=(4, 6), stride=(2, 2), text=8, valid=(8, 4), **SMALL))
      for name, dtype in (("fp16", "float16"), ("fp32", "float32"))),
    # (seq - 1) * token stride > 2**31: a [1, seq, 1, width] buffer, q/k/v its first 3 x 128 channels.
    Case("offsets-64", (64, 64), (20, 20), (4, 4), 512, heads=1, layout="offsets-64",
         smoke=dict(grid=(8, 12), kernel=(4, 6), stride=(2, 2), text=8, head_dim=32)),
    Case("poisoned-out", (96, 160), (40, 48), (8, 16), 512, batch=2, valid=(512, 200), check="poisoned",
         smoke=dict(grid=(12, 20), kernel=(5, 6), stride=(1, 2), text=16, valid=(16, 7), **SMALL)),
    Case("repeat", (96, 160), (40, 48), (8, 16), 512, batch=2, valid=(512, 170), check="repeat",
         smoke=dict(grid=(12, 20), kernel=(5, 6), stride=(1, 2), text=16, valid=(16, 5), **SMALL)),
    Case("flux-4k-sampled", (256, 256), (80, 80), (16, 16), 512, heads=24, check="sampled",
         smoke=dict(grid=(16, 16), kernel=(5, 5), stride=(1, 1), text=16, heads=2, head_dim=32)),
    Case("hunyuan-video-sampled", (30, 48, 80), (18, 24, 24), (16, 8, 8), 256, text_first=False, heads=24,
         check="sampled",
         smoke=dict(grid=(3, 6, 8), kernel=(2, 3, 4), stride=(1, 1, 2), text=8, heads=2, head_dim=32)),
]
CASE_NAMES = [case.name for case in CASES]
SAMPLED_ROWS = 1024  # query rows checked in a "sampled" case (the grid's corners and edges among them)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="cases: " + ", ".join(CASE_NAMES),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None, help="write the results here (rewritten after every case)")
    parser.add_argument("--cases", default=None, type=_case_names,
                        help="comma-separated case names (default: all, in the order listed)")
    parser.add_argument("--smoke", action="store_true",
                        help="CPU dry run: Triton's interpreter, tiny sizes (proves the script runs, not the GPU)")
    parser.add_argument("--list", action="store_true", help="print the cases and their sizes, run nothing")
    return parser.parse_args(argv)


def _case_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASE_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown) or repr(text)}: not a case; allowed: "
                                         f"{', '.join(CASE_NAMES)}")
    return names


def sized(case: Case, smoke: bool) -> Case:
    return dataclasses.replace(case, **case.smoke) if smoke else case


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------


def randn(shape, dtype, seed: int, device):
    import torch

    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(shape, generator=generator, device=device, dtype=torch.float32).to(dtype)


def inputs(case: Case, device, seed: int):
    """q, k, v as ``case.layout`` lays them out, all [B, S, heads, head_dim] views."""
    import torch

    dtype = getattr(torch, case.dtype)
    b, s, h, d = case.batch, case.tokens, case.heads, case.head_dim
    if case.layout == "contiguous":
        return [randn((b, s, h, d), dtype, seed + i, device) for i in range(3)]
    if case.layout == "fused-qkv":  # one projection, q | k | v | 40 MLP channels (FLUX.2's single blocks)
        fused = randn((b, s, 3 * h * d + 40), dtype, seed, device)
        q, k, v, _ = fused.split([h * d] * 3 + [40], dim=-1)
        return [t.unflatten(-1, (h, d)) for t in (q, k, v)]
    if case.layout == "head-major":  # [B, H, S, D] transposed to [B, S, H, D]
        return [randn((b, h, s, d), dtype, seed + i, device).transpose(1, 2) for i in range(3)]
    if case.layout == "offsets-64":
        # the token stride: (s - 1) * width passes 2**31 on the GPU; in a smoke run 3 * d (small)
        width = 3 * d if device == "cpu" else INT32_LIMIT // (s - 1) + 64
        width += (-width) % 16  # 32-byte aligned rows
        buffer = torch.empty((b, s, h, width), device=device, dtype=dtype)
        buffer[..., : 3 * d] = randn((b, s, h, 3 * d), dtype, seed, device)
        return [buffer[..., i * d:(i + 1) * d] for i in range(3)]
    raise ValueError(f"layout {case.layout!r}")


def needs_64bit_offsets(tensor) -> bool:
    """The kernel's rule (triton_op.needs_64bit_offsets): a token's or channel's offset past int32."""
    _, seq, _, head_dim = tensor.shape
    return max((seq - 1) * tensor.stride(1), (head_dim - 1) * tensor.stride(3)) > INT32_LIMIT


def window_of(case: Case):
    from na_accel.windows import WindowSpec

    return WindowSpec(case.kernel, case.stride, (1,) * len(case.grid), (False,) * len(case.grid)).resolve(case.grid)


def tiles_of(q, window, text_len) -> dict:
    """The tiles the kernel picks for this call (diagnostic; internals, so failures are only noted)."""
    try:
        from na_accel.kernels.triton_op import tile_budget
        from na_accel.kernels.triton_tiles import as_3d, choose_tiles

        axes = [as_3d(tuple(v), 1) for v in (window.grid, window.kernel_size, window.stride, window.dilation)]
        tiles = choose_tiles(*axes, as_3d(tuple(bool(c) for c in window.is_causal), False), text_len, tile_budget(q))
        return {"q_tile": list(tiles.q_tile), "kv_tile": list(tiles.kv_tile), "partly_covered_pairs": tiles.partial}
    except Exception as exc:  # noqa: BLE001 - a diagnostic must never fail a check
        return {"tiles_unknown": f"{type(exc).__name__}: {str(exc)[:200]}"}


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------


def errors(out, ref, dtype: str, rows: dict | None = None) -> dict:
    """rel_max and rel_fro of ``out`` against ``ref`` (float32), overall and per row group."""
    import torch

    out = out.float()
    diff = out - ref
    scale_max, scale_fro = ref.abs().max().item(), ref.norm().item()
    info = {
        "rel_max": diff.abs().max().item() / scale_max,
        "rel_fro": diff.norm().item() / scale_fro,
        "finite": bool(torch.isfinite(out).all()),
    }
    for group, index in (rows or {}).items():  # where an error sits: visual or text rows
        if index.numel():
            info[f"rel_max_{group}"] = diff[:, index].abs().max().item() / scale_max
    info["ok"] = (info["finite"] and info["rel_max"] <= TOLERANCE_MAX[dtype]
                  and info["rel_fro"] <= TOLERANCE_FRO[dtype])
    info["tolerance"] = {"rel_max": TOLERANCE_MAX[dtype], "rel_fro": TOLERANCE_FRO[dtype]}
    return info


def row_groups(case: Case, device) -> dict:
    import torch

    n_visual = math.prod(case.grid)
    text_start = 0 if case.text_first else n_visual
    visual_start = case.text if case.text_first else 0
    return {"visual": torch.arange(visual_start, visual_start + n_visual, device=device),
            "text": torch.arange(text_start, text_start + case.text, device=device)}


def gna_call(case: Case, window):
    """The case's joint sequence and window, as the backends take them."""
    from na_accel.kernels import GNACall

    return GNACall(window, case.text, case.text_first, case.valid)


def triton_call(q, k, v, case: Case, window):
    from na_accel.kernels.joint import gna_joint_attention

    return gna_joint_attention(q, k, v, gna_call(case, window), backend="triton")


def against_reference(q, k, v, case: Case, window, device) -> tuple[object, dict]:
    from na_accel.kernels.joint import gna_joint_attention

    out = triton_call(q, k, v, case, window)
    ref = gna_joint_attention(*(t.float().contiguous() for t in (q, k, v)), gna_call(case, window),
                              backend="reference")
    info = errors(out, ref, case.dtype, row_groups(case, device))
    info["output_contiguous"] = out.is_contiguous()
    return out, info


def sampled_rows(case: Case, device):
    """SAMPLED_ROWS query rows: every corner and edge midpoint of the grid, the first and last text
    rows, the rest spread evenly (a fixed seed), sorted."""
    import torch

    n_visual = math.prod(case.grid)
    corners = set()
    for point in itertools.product(*[(0, n // 2, n - 1) for n in case.grid]):
        flat = 0
        for coord, n in zip(point, case.grid):
            flat = flat * n + coord
        corners.add(flat)
    visual_start = case.text if case.text_first else 0
    text_start = 0 if case.text_first else n_visual
    chosen = {visual_start + c for c in corners} | {text_start, text_start + case.text - 1}
    generator = torch.Generator().manual_seed(7)
    spread = torch.randperm(case.tokens, generator=generator)[: max(0, SAMPLED_ROWS - len(chosen))].tolist()
    rows = sorted(chosen | set(spread))[:SAMPLED_ROWS] if case.tokens > SAMPLED_ROWS else list(range(case.tokens))
    return torch.tensor(rows, device=device)


def sampled_reference(q, k, v, case: Case, window, rows):
    """Float32 masked attention of ``rows`` (joint sequence indices) over every key: visual rows see
    their neighborhood and the text, text rows see everything (no padding in a sampled case)."""
    import torch
    import torch.nn.functional as F
    from na_accel.windows.masks import neighborhood_rows

    n_visual = math.prod(case.grid)
    visual_start = case.text if case.text_first else 0
    visual_keys = slice(visual_start, visual_start + n_visual)
    mask = torch.ones(rows.numel(), case.tokens, dtype=torch.bool, device=rows.device)
    is_visual = (rows >= visual_start) & (rows < visual_start + n_visual)
    neighborhood = neighborhood_rows(case.grid, window, rows[is_visual] - visual_start)
    block = mask[is_visual]
    block[:, visual_keys] = neighborhood
    mask[is_visual] = block
    out = []
    for head in range(case.heads):  # one head at a time: the scores are rows x tokens float32
        qh, kh, vh = (t[:, :, head].float() for t in (q[:, rows], k, v))
        out.append(F.scaled_dot_product_attention(qh[:, None], kh[:, None], vh[:, None], attn_mask=mask)[:, 0])
    return torch.stack(out, dim=2)  # [B, rows, heads, D]


def run_case(case: Case, smoke: bool, device) -> dict:
    import torch

    window = window_of(case)
    seed = 100 * (CASE_NAMES.index(case.name) + 1)
    info: dict = {"grid": list(case.grid), "window": list(case.kernel), "stride": list(case.stride),
                  "text": case.text, "text_first": case.text_first, "batch": case.batch, "heads": case.heads,
                  "head_dim": case.head_dim, "dtype": case.dtype, "valid_text": list(case.valid or []) or None,
                  "layout": case.layout, "check": case.check, "tokens": case.tokens}
    if case.check == "poisoned":
        q, k, v = inputs(case, device, seed)
        poison = torch.full(q.shape, float("nan"), device=device, dtype=q.dtype)
        poisoned_at = poison.data_ptr()
        del poison  # its block goes back to the caching allocator; the output reuses it
        out, result = against_reference(q, k, v, case, window, device)
        info["poison_reused"] = out.data_ptr() == poisoned_at
        if device == "cuda" and not info["poison_reused"]:
            result["ok"] = False
            result["note"] = "the output did not reuse the poisoned block: the check proved nothing"
    elif case.check == "repeat":
        q, k, v = inputs(case, device, seed)
        first = triton_call(q, k, v, case, window)
        second = triton_call(q, k, v, case, window)
        same = bool(torch.equal(first, second))
        mismatched = (first != second).sum().item()
        result = {"ok": same and bool(torch.isfinite(first).all()), "bit_equal": same,
                  "elements_differing": mismatched}
    elif case.check == "sampled":
        q, k, v = inputs(case, device, seed)
        out = triton_call(q, k, v, case, window)
        rows = sampled_rows(case, device)
        ref = sampled_reference(q, k, v, case, window, rows)
        result = errors(out[:, rows], ref, case.dtype)
        result["rows_checked"] = rows.numel()
    else:
        forced = False
        if case.layout == "offsets-64" and device == "cpu":
            # a smoke run cannot hold a 4.3 GB buffer: take the 64-bit path for small offsets instead
            from na_accel.kernels import triton_op

            forced = hasattr(triton_op, "INT32_LIMIT")
            if forced:
                triton_op.INT32_LIMIT = 0
        try:
            q, k, v = inputs(case, device, seed)
            out, result = against_reference(q, k, v, case, window, device)
            if case.layout == "offsets-64":
                result["offsets_64"] = any(needs_64bit_offsets(t) for t in (q, k, v))
                result["token_stride"] = q.stride(1)
                result["forced_64bit_path"] = forced
                narrow = triton_call(*(t.contiguous() for t in (q, k, v)), case, window)
                result["max_abs_vs_contiguous_inputs"] = (out.float() - narrow.float()).abs().max().item()
                if device == "cuda" and not result["offsets_64"]:
                    result["ok"] = False
                    result["note"] = "the views do not pass 2**31: the 64-bit path was not exercised"
        finally:
            if forced:
                triton_op.INT32_LIMIT = INT32_LIMIT
    info["tiles"] = tiles_of(q, window, case.text)
    return {**result, **info}


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for case in CASES:
            full, small = sized(case, False), sized(case, True)
            print(f"{case.name:22s} {full.tokens:6d} tokens ({small.tokens} in --smoke), {case.layout}, {case.check}")
        return 0
    if args.smoke:  # before torch and triton are imported
        os.environ["TRITON_INTERPRET"] = "1"
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("NA_ACCEL_TRITON_AUTOTUNE", "0")
    sys.path.insert(0, str(ROOT))  # the checkout's na_accel
    sys.path.insert(1, str(ROOT / "eval"))
    import torch
    from gpu_env import machine

    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_checks.py: no CUDA device visible; on a CPU run --smoke (a dry run under Triton's interpreter)",
              file=sys.stderr)
        return 2
    names = args.cases or CASE_NAMES
    report = {
        "tool": "eval/gpu_checks.py",
        "command": shlex.join(["python", "eval/gpu_checks.py", *(sys.argv[1:] if argv is None else argv)]),
        "mode": "smoke" if args.smoke else "gpu",
        **machine(device),
        "autotune": os.environ["NA_ACCEL_TRITON_AUTOTUNE"] != "0",
        "finished": False,
        "passed": 0,
        "failed": 0,
        "cases": {},
    }

    def write():
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")

    write()
    for name in names:
        case = sized(CASES[CASE_NAMES.index(name)], args.smoke)
        start = time.perf_counter()
        try:
            result = run_case(case, args.smoke, device)
            if device == "cuda":
                torch.cuda.synchronize()
        except Exception as exc:  # noqa: BLE001 - one case's failure never stops the others
            traceback.print_exc()
            result = {"ok": False, "error": f"{type(exc).__name__}: {str(exc).strip()[:400]}"}
        result["seconds"] = round(time.perf_counter() - start, 2)
        report["cases"][name] = result
        report["passed" if result["ok"] else "failed"] += 1
        if device == "cuda":
            torch.cuda.empty_cache()
        shown = {key: result[key] for key in ("rel_max", "rel_fro", "bit_equal", "poison_reused", "offsets_64",
                                               "error", "note", "seconds") if key in result}
        print(f"{'ok  ' if result['ok'] else 'FAIL'} {name:22s} {json.dumps(shown, default=str)}", flush=True)
        write()
    report["finished"] = True
    write()
    print(f"gpu_checks: {report['passed']} passed, {report['failed']} failed ({report['device']['name']})")
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
