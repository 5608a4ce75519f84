"""What a GPU measurement ran on: the machine, the versions, the kernel's source (one dict).

    python eval/gpu_env.py                 # print it (eval/gpu_run.sh writes it to env.txt)
    python eval/gpu_env.py --json FILE     # and write it as JSON

Shared by ``eval/gpu_checks.py`` and ``eval/ab_bench.py`` (``from gpu_env import machine``), so every
JSON of a GPU run says the same things the same way. Imports torch and triton, never na_accel (the
A/B imports it from another folder): the kernel is identified by the SHA-256 of its source files in
the na_accel package found on ``sys.path``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
from pathlib import Path

PACKAGES = ("torch", "triton", "natten", "diffusers", "transformers", "accelerate", "google-re2", "numpy")
KERNEL_FILES = ("triton_gna.py", "triton_op.py", "triton_tiles.py", "triton_backend.py")
ENV_VARS = ("TRITON_INTERPRET", "NA_ACCEL_TRITON_AUTOTUNE", "TRITON_CACHE_DIR", "TRITON_CACHE_AUTOTUNING",
            "CUDA_VISIBLE_DEVICES", "PYTHONPATH")


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def kernel_source() -> dict:
    """Where ``import na_accel`` would load from, and the SHA-256 (first 12 hex) of its kernel files."""
    spec = importlib.util.find_spec("na_accel")
    if spec is None or not spec.submodule_search_locations:
        return {"na_accel": None}
    package = Path(list(spec.submodule_search_locations)[0])
    digests = {}
    for name in KERNEL_FILES:
        path = package / "kernels" / name
        if path.is_file():
            digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return {"na_accel": str(package), "kernel_sha256": digests}


def machine(device: str = "cuda") -> dict:
    """The device (name, capability, SMs, memory, shared memory per block), versions and settings."""
    import torch

    info: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: package_version(name) for name in PACKAGES},
        "torch_cuda": torch.version.cuda,
        "env": {name: os.environ.get(name) for name in ENV_VARS},
        **kernel_source(),
    }
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["device"] = {
            "type": "cuda",
            "name": props.name,
            "capability": f"{props.major}.{props.minor}",
            "sm_count": props.multi_processor_count,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "shared_memory_per_block_optin": getattr(props, "shared_memory_per_block_optin", None),
            "cudnn": torch.backends.cudnn.version(),
        }
    else:
        interpreted = os.environ.get("TRITON_INTERPRET") == "1"
        info["device"] = {"type": "cpu", "name": platform.processor() or platform.machine() or "cpu",
                          "note": "Triton's interpreter (TRITON_INTERPRET=1): timings mean nothing" if interpreted
                          else "no CUDA device"}
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=None, help="also write the dict here")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args(argv)
    info = machine(args.device)
    text = json.dumps(info, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
