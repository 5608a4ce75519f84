"""Where the tests find ComfyUI, and how they import it on a CPU machine.

ComfyUI is not on the package registry: the tests import its source from a checkout, by default
``shared/comfyui`` beside the repository or a folder above it (``../shared/comfyui``: the pinned
snapshot this project tests against), or
wherever ``NA_ACCEL_COMFYUI`` points. Without one, every ComfyUI test skips, saying how to point
them at a checkout. Its Python requirements that the tests need (einops, psutil, torchsde) come
from the registry with the test extras.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

ENV = "NA_ACCEL_COMFYUI"
REPO = Path(__file__).resolve().parents[2]
# shared/comfyui beside the repository or beside a folder above it (a git worktree's parent)
DEFAULTS = [parent / "shared" / "comfyui" for parent in REPO.parents]


def checkout() -> Path | None:
    """The ComfyUI checkout to test against, or None."""
    candidates = [Path(os.environ[ENV]).expanduser()] if os.environ.get(ENV) else DEFAULTS
    return next((path for path in candidates if (path / "comfy" / "model_patcher.py").is_file()), None)


def missing_reason() -> str | None:
    if checkout() is not None:
        return None
    where = f"{ENV}={os.environ[ENV]}" if os.environ.get(ENV) else f"shared/comfyui beside {REPO} or a folder above it"
    return (f"no ComfyUI checkout at {where}: point the ComfyUI tests at one with "
            f"{ENV}=/path/to/ComfyUI (git clone https://github.com/comfyanonymous/ComfyUI)")


def import_comfy() -> types.SimpleNamespace:
    """ComfyUI's modules the tests use, imported once, on the CPU."""
    path = str(checkout())
    if path not in sys.path:
        sys.path.append(path)  # last: ComfyUI's top-level names (utils, app, ...) shadow nothing of ours
    import comfy.cli_args

    comfy.cli_args.args.cpu = True  # before comfy.model_management is imported
    _import_without_torchvision(["comfy.ldm.cosmos.model", "comfy.ldm.cosmos.predict2"])
    modules = ["comfy.model_management", "comfy.model_patcher", "comfy.model_base", "comfy.samplers",
               "comfy.sample", "comfy.supported_models", "comfy.patcher_extension", "comfy.ldm.modules.attention"]
    return types.SimpleNamespace(**{name.rsplit(".", 1)[-1]: importlib.import_module(name) for name in modules})


def _import_without_torchvision(names: list[str]) -> None:
    """Import ``names``, whose modules do ``from torchvision import transforms`` for a resize of
    Cosmos' padding mask that the tests never pass. Where torchvision does not import (the
    registry's wheels are built for CUDA torch: they fail on torch's CPU build), a stand-in
    ``torchvision.transforms`` is present for those imports only, and removed after."""
    try:
        import torchvision.transforms  # noqa: F401
    except Exception:
        pass
    else:
        for name in names:
            importlib.import_module(name)
        return
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "torchvision" or k.startswith("torchvision.")}
    stand_in = types.ModuleType("torchvision")
    stand_in.transforms = types.ModuleType("torchvision.transforms")
    sys.modules.update({"torchvision": stand_in, "torchvision.transforms": stand_in.transforms})
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        del sys.modules["torchvision"], sys.modules["torchvision.transforms"]
        sys.modules.update(saved)
