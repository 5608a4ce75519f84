"""A synthetic denoising loop for transformers with random weights (speed does not depend on weights).

``SyntheticPipeline`` holds a bare transformer and a real ``FlowMatchEulerDiscreteScheduler``: each
call builds random latents and text embeddings shaped as the family's pipeline would pass them
(the family's own input builder, ``FamilySpec.transformer_inputs``, read from the transformer's
config), then runs ``num_inference_steps`` transformer calls with scheduler steps in between. It
looks like a pipeline to ``na_accel.patch`` (a ``components`` dict with "transformer", and a
``scheduler`` whose ``step_index`` drives recipes' ``dense_steps``). Its output is the final latent
tensor.
"""

from __future__ import annotations

from typing import Any

import torch

from ..families.registry import family_spec


class SyntheticPipeline:
    """A transformer + a FlowMatch Euler scheduler, run on synthetic inputs (see the module doc).

    ``text_len``: text tokens per sample (default: the family's pipeline default).
    """

    def __init__(self, transformer: torch.nn.Module, family: str, text_len: int | None = None):
        from diffusers import FlowMatchEulerDiscreteScheduler

        self.spec = family_spec(family)
        self.transformer = transformer
        self.family = family
        self.scheduler = FlowMatchEulerDiscreteScheduler()
        self.text_len = text_len or self.spec.default_text_tokens

    @property
    def components(self) -> dict[str, Any]:
        return {"transformer": self.transformer, "scheduler": self.scheduler}

    @torch.no_grad()
    def __call__(self, *, grid: tuple[int, ...], num_inference_steps: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
        parameter = next(self.transformer.parameters())
        device, dtype = parameter.device, parameter.dtype
        kwargs = self.spec.transformer_inputs(self.transformer, tuple(grid), batch=batch, text_len=self.text_len,
                                              seed=seed, device=device, dtype=dtype)
        latents = kwargs.pop("hidden_states")
        kwargs.pop("timestep")  # the scheduler's, below
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        for t in self.scheduler.timesteps:
            timestep = t.expand(batch).to(device=device, dtype=torch.float32) * self.spec.timestep_scale
            prediction = self.transformer(**kwargs, hidden_states=latents, timestep=timestep, return_dict=False)[0]
            latents = self.scheduler.step(prediction, t, latents, return_dict=False)[0]
        return latents
