"""A ComfyUI test case: a tiny model built from ComfyUI's own classes, and what to sample it with.

Each family's case (``cases/<family>.py``) builds its ``ModelPatcher`` the way ComfyUI loads a
checkpoint (``comfy.supported_models.<Config>(unet_config).get_model(...)``), with a tiny
``unet_config`` and seeded random weights (ComfyUI's layers are created uninitialized), and says
what latent and conditioning its sampler gets. ``sample`` runs ComfyUI's own sampling
(``comfy.sample.sample``: CFG, the model's sampling, the DIFFUSION_MODEL wrappers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

TOLERANCE = 2e-5  # float32, relative to the output's scale: two attention backends' rounding after sampling


@dataclass(frozen=True)
class ComfyCase:
    name: str
    family: str  # the recipe family (na_accel.comfyui.family.ComfyFamily.name)
    build: Callable[[Any], Any]  # comfy -> the tiny ModelPatcher
    latent: tuple[int, ...]  # the latent sampled (batch first)
    grid: tuple[int, ...]  # its token grid, worked out by hand from the model's patch size
    conditioning: Callable[[torch.Generator, int], tuple[list, list]]  # (generator, batch) -> (positive, negative)
    cfg: float = 2.0  # > 1: ComfyUI batches the conditional and unconditional calls
    sampler: str = "euler"
    reference_grids: tuple[tuple[int, ...], ...] = ()  # reference latents' grids, in token order


def seeded(model: torch.nn.Module, seed: int = 0, std: float = 0.05) -> None:
    """Random weights from ``seed`` (ComfyUI's layers are created with empty weights)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)


def patcher(comfy: Any, config_class: Any, unet_config: dict, seed: int = 0) -> Any:
    """ComfyUI's ModelPatcher around ``config_class(unet_config)``'s model, float32 on the CPU."""
    config = config_class(dict(unet_config))
    config.set_inference_dtype(torch.float32, None)
    model = config.get_model({}, device="cpu")
    seeded(model.diffusion_model, seed)
    cpu = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)


def sample(comfy: Any, model: Any, case: ComfyCase, *, steps: int = 2, batch: int = 1, seed: int = 0,
           latent: tuple[int, ...] | None = None) -> torch.Tensor:
    """ComfyUI's sampling of ``model`` for ``case``: the same noise, latent and conditioning for every model."""
    shape = (batch, *(latent or case.latent)[1:])
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(shape, generator=generator)
    positive, negative = case.conditioning(generator, batch)
    return comfy.sample.sample(model, noise, steps, case.cfg, case.sampler, "simple", positive, negative,
                               torch.zeros(shape), disable_pbar=True, seed=seed)


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, relative to ``b``'s scale (at least 1)."""
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


def cpu_backends(grid_rank: int) -> list[str]:
    """The attention backends that run on this machine's CPU in float32 (reference, triton, flex-fna, ...)."""
    from na_accel.kernels import BACKENDS, BackendTarget

    target = BackendTarget(torch.device("cpu"), torch.float32, 32, grid_rank)
    return [name for name, backend in BACKENDS.items() if backend.unavailable_reason(target) is None]


def sample_counted(comfy: Any, model: Any, case: ComfyCase, recipe: Any = None, backend: str = "reference",
                   **kwargs: Any) -> tuple[torch.Tensor, dict, int, Any]:
    """``sample`` of ``model`` (patched with ``recipe`` when given): (the sampled latent, what its
    attention calls ran, the diffusion model's forward calls counted by a hook of its own, the patch)."""
    from na_accel.comfyui import patch_model, patch_of

    if recipe is not None:
        model = patch_model(model, recipe, backend=backend)
    forwards = []
    handle = model.model.diffusion_model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        out = sample(comfy, model, case, **kwargs)
    finally:
        handle.remove()
    patch = patch_of(model)
    return out, (dict(patch.totals()) if patch else {}), len(forwards), patch
