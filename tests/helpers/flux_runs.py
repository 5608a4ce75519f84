"""Tiny FLUX runs several test files compare: a pipeline generation and a bare transformer forward."""

import torch

from na_accel.tiny import flux_transformer_inputs, tiny_flux_prompt


def run_flux_pipe(pipe, *, height=80, width=112, steps=2, batch=2, cfg=True, seed=0):
    """Tiny FLUX generation: 80x112 pixels -> odd 5x7 token grid; batch and true CFG by default."""
    prompt = tiny_flux_prompt(seed=1, batch=batch)
    kwargs = dict(prompt.as_kwargs())
    if cfg:
        kwargs.update(tiny_flux_prompt(seed=2, batch=batch).as_kwargs("negative_"))
        kwargs["true_cfg_scale"] = 2.0
    return pipe(
        height=height,
        width=width,
        num_inference_steps=steps,
        guidance_scale=3.5,
        output_type="pt",
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    ).images


def run_flux_transformer(transformer, height, width, batch=2, text_len=8, seed=0):
    with torch.no_grad():
        return transformer(**flux_transformer_inputs(height, width, batch, text_len, seed)).sample
