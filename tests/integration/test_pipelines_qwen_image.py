"""Qwen-Image inside real diffusers pipelines (tiny, offline): prompts of different lengths (padded
text), true CFG with a negative prompt of another length, dense_steps, and the edit pipelines'
reference images as the adapter reads them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import na_accel
from na_accel.families import family_spec
from na_accel.tiny import TINY_PIPELINES, tiny_qwen_image_transformer
from na_accel.tiny.qwen_image import tiny_qwen_image_vae

TOLERANCE = 1e-5
PROMPTS = ["a red fox in the snow", "a cat"]  # different lengths: the second row's text is padded
STEPS = 3
LAYERS = 2  # the tiny transformer's blocks


@pytest.fixture(scope="module")
def pipe():
    return TINY_PIPELINES["tiny-qwen-image"][0](seed=0)


def _generate(pipe, seed=0, calls=None):
    """80x112 pixels (an odd 5x7 token grid), batch 2, true CFG with the negative prompt " "."""
    call = TINY_PIPELINES["tiny-qwen-image"][1]
    handle = None
    if calls is not None:
        handle = pipe.transformer.register_forward_pre_hook(lambda m, a, k: calls.append(k), with_kwargs=True)
    try:
        return pipe(**call(prompt=PROMPTS, steps=STEPS, seed=seed, height=80, width=112, output_type="latent")).images
    finally:
        if handle is not None:
            handle.remove()


def _recipe(kernel_size, dense_steps, **window):
    return {"model": "qwen_image", "dense_steps": dense_steps, "default": {"kernel_size": kernel_size, **window}}


def _totals(pipe):
    return na_accel.describe(pipe).transformers[0].totals


def test_the_pipeline_pads_the_text_and_runs_cfg_with_another_length(pipe):
    calls = []
    _generate(pipe, calls=calls)
    assert len(calls) == 2 * STEPS  # true CFG: prompt and negative prompt per step
    adapter = family_spec("qwen_image").adapter()
    layouts = [adapter.token_layout(pipe.transformer, (), kwargs) for kwargs in calls]
    positive, negative = layouts[0], layouts[1]
    assert positive.grid == negative.grid == (5, 7) and not positive.extra_grids
    assert positive.text_len > negative.text_len  # the negative prompt " " is shorter
    # the long prompt fills the text; the short one is right-padded (a mask the GNA path honours)
    assert positive.text_valid_lens[0] == positive.text_len > positive.text_valid_lens[1]
    assert negative.text_valid_lens is None  # one negative prompt per row, nothing padded: no mask


def test_full_window_with_dense_steps_reproduces_stock(pipe):
    stock = _generate(pipe)
    na_accel.patch(pipe, _recipe([5, 7], dense_steps=1))
    try:
        patched = _generate(pipe)
        totals = _totals(pipe)
    finally:
        na_accel.unpatch(pipe)
    assert (patched - stock).abs().max().item() <= TOLERANCE
    # both CFG calls of step 0 dense, counted per call; every later call through the GNA path
    assert totals == {"dense: dense step (step < dense_steps=1)": 2 * LAYERS,
                      "full window": 2 * LAYERS * (STEPS - 1)}


def test_sparse_generation_matches_the_reference_backend(pipe):
    recipe = _recipe([3, 4], dense_steps=1, stride=[2, 3], dilation=[1, 2])
    outputs = {}
    for backend in ("auto", "reference"):
        na_accel.patch(pipe, recipe, backend=backend)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("error", message="na_accel:")  # no fallback by surprise
                outputs[backend] = _generate(pipe, seed=1)
            assert _totals(pipe)["sparse"] == 2 * LAYERS * (STEPS - 1)
        finally:
            na_accel.unpatch(pipe)
    assert (outputs["auto"] - outputs["reference"]).abs().max().item() <= TOLERANCE
    assert (outputs["auto"] - _generate(pipe, seed=1)).abs().max().item() > 1e-4  # GNA changed the generation


def test_patch_unpatch_leaves_the_pipeline_bit_identical(pipe):
    before = _generate(pipe, seed=2)
    na_accel.patch(pipe, "qwen_image_gna")
    na_accel.unpatch(pipe)
    assert torch.equal(_generate(pipe, seed=2), before)


def test_the_edit_pipelines_reference_images_are_extra_grids():
    """QwenImageEditPlusPipeline (two reference images) up to its first transformer call: the
    reference latents follow the generated image's, each a grid of its own. The pipeline resizes
    references to ~1024x1024 pixels whatever the output size (too slow to generate with on a CPU;
    the attention over such layouts is checked against the reference backend in
    tests/families/test_qwen_image.py)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, QwenImageEditPlusPipeline
    from PIL import Image

    class FirstCall(Exception):
        pass

    edit = QwenImageEditPlusPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=tiny_qwen_image_vae(),
                                     text_encoder=None, tokenizer=None, processor=None,
                                     transformer=tiny_qwen_image_transformer())
    edit.set_progress_bar_config(disable=True)
    images = [Image.fromarray((np.random.RandomState(i).rand(*size, 3) * 255).astype("uint8"))
              for i, size in enumerate([(96, 128), (128, 64)])]
    seen = {}

    def stop(module, args, kwargs):
        seen.update(kwargs)
        raise FirstCall

    edit.transformer.register_forward_pre_hook(stop, with_kwargs=True)
    generator = torch.Generator().manual_seed(0)
    embeds, mask = torch.randn(1, 6, 32, generator=generator), torch.ones(1, 6, dtype=torch.long)
    with torch.no_grad(), pytest.raises(FirstCall):
        edit(image=images, prompt_embeds=embeds, prompt_embeds_mask=mask, height=80, width=112, num_inference_steps=1)
    layout = family_spec("qwen_image").adapter().token_layout(edit.transformer, (), seen)
    references = [tuple(shape[1:]) for shape in seen["img_shapes"][0][1:]]
    assert layout.problem is None and layout.grid == (5, 7)
    assert len(references) == 2 and layout.extra_grids == tuple(references)
    assert seen["hidden_states"].shape[1] == 35 + sum(h * w for h, w in references)
