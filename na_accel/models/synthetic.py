"""A synthetic denoising loop for transformers with random weights (speed does not depend on weights).

``SyntheticPipeline`` holds a bare transformer and a real ``FlowMatchEulerDiscreteScheduler``: each
call builds random latents and text embeddings shaped as the family's pipeline would pass them,
then runs ``num_inference_steps`` transformer calls with scheduler steps in between. It looks like
a pipeline to ``na_accel.patch`` (a ``components`` dict with "transformer", and a ``scheduler``
whose ``step_index`` drives recipes' ``dense_steps``). Its output is the final latent tensor.

The inputs are each family's own (``FamilySpec.transformer_inputs``, read from the transformer's
config): ``INPUT_BUILDERS[family](transformer, grid, batch, text_len, device, dtype, seed) ->
SyntheticInputs`` is derived from the family registry, so a new family needs nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..errors import ArgumentError
from ..families.family_types import FamilySpec
from ..families.registry import FAMILY_SPECS, family_spec, supported_families


@dataclass
class SyntheticInputs:
    """Keyword arguments of one transformer call; ``latents`` replaces ``kwargs[latent_key]``."""

    latents: torch.Tensor
    kwargs: dict[str, Any]
    latent_key: str = "hidden_states"
    timestep_scale: float = 1.0  # scheduler timesteps are 0..1000; FLUX's transformer takes t / 1000
    # Channels the transformer takes after the latents, the same every step (HunyuanVideo 1.5: the
    # condition latent and its mask, as its pipelines concatenate them); None: the input is the latents.
    condition: torch.Tensor | None = None


def _input_builder(spec: FamilySpec) -> Callable[..., SyntheticInputs]:
    """The family's input builder, as the loop takes it: the latents apart, the timestep left to the scheduler."""

    def build(transformer, grid, batch, text_len, device, dtype, seed) -> SyntheticInputs:
        kwargs = spec.transformer_inputs(transformer, tuple(grid), batch=batch, text_len=text_len, seed=seed,
                                         device=device, dtype=dtype)
        kwargs.pop("timestep")
        hidden_states = kwargs.pop("hidden_states")
        # A video transformer that predicts fewer channels than it takes gets condition channels
        # after the latents (its output is the latents' update).
        latent_channels = transformer.config.get("out_channels")
        if hidden_states.ndim == 5 and latent_channels and hidden_states.shape[1] > latent_channels:
            return SyntheticInputs(hidden_states[:, :latent_channels], kwargs, timestep_scale=spec.timestep_scale,
                                   condition=hidden_states[:, latent_channels:])
        return SyntheticInputs(hidden_states, kwargs, timestep_scale=spec.timestep_scale)

    return build


INPUT_BUILDERS: dict[str, Callable[..., SyntheticInputs]] = {
    spec.name: _input_builder(spec) for spec in FAMILY_SPECS if spec.synthetic_loop_problem is None
}


def check_synthetic_loop(family: str, where: str = "model") -> None:
    """An ArgumentError saying why, where the synthetic loop can't drive ``family``'s transformer."""
    problem = family_spec(family).synthetic_loop_problem if family in supported_families() else None
    if problem is not None:
        raise ArgumentError(f"{where}: the synthetic loop of --random-weights can't run {family}: {problem}; "
                            f"bench a real {family} pipeline (a local folder or hub id) instead")


class SyntheticPipeline:
    """A transformer + a FlowMatch Euler scheduler, run on synthetic inputs (see the module doc).

    ``text_len``: text tokens per sample (default: the family's pipeline default).
    """

    def __init__(self, transformer: torch.nn.Module, family: str, text_len: int | None = None):
        from diffusers import FlowMatchEulerDiscreteScheduler

        if family not in INPUT_BUILDERS:
            check_synthetic_loop(family)
            raise ArgumentError(f"model: no synthetic inputs for family {family!r}; known: {sorted(INPUT_BUILDERS)}")
        self.transformer = transformer
        self.family = family
        self.scheduler = FlowMatchEulerDiscreteScheduler()
        self.text_len = text_len or family_spec(family).default_text_tokens

    @property
    def components(self) -> dict[str, Any]:
        return {"transformer": self.transformer, "scheduler": self.scheduler}

    @torch.no_grad()
    def __call__(self, *, grid: tuple[int, ...], num_inference_steps: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
        parameter = next(self.transformer.parameters())
        device, dtype = parameter.device, parameter.dtype
        inputs = INPUT_BUILDERS[self.family](self.transformer, tuple(grid), batch, self.text_len, device, dtype, seed)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        latents = inputs.latents
        for t in self.scheduler.timesteps:
            timestep = t.expand(batch).to(device=device, dtype=torch.float32) * inputs.timestep_scale
            model_input = latents if inputs.condition is None else torch.cat([latents, inputs.condition], dim=1)
            kwargs = {**inputs.kwargs, inputs.latent_key: model_input, "timestep": timestep}
            prediction = self.transformer(**kwargs, return_dict=False)[0]
            latents = self.scheduler.step(prediction, t, latents, return_dict=False)[0]
        return latents
