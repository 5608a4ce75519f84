"""Qwen-Image's edges the generic contract (test_families.py) does not reach.

* the layout against ComfyUI's own position ids: text first, then each grid row-major, the
  reference latents in their order, for both ``ref_latents_method``s;
* the text encoder's padding mask in the conditioning never reaches the attention (ComfyUI drops
  it): GNA runs, nothing is refused as a foreign mask;
* a negative prompt without the reference latents: the two prompts run as separate calls with
  different layouts, each one GNA.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from comfyui.cases.base import sample
from comfyui.cases.qwen_image import EDIT_REFERENCES, QWEN_IMAGE_EDIT, TEXT_TOKENS, conditioning
from na_accel.comfyui import patch_model, patch_of
from na_accel.comfyui.families.qwen_image import COMFY_QWEN_IMAGE
from na_accel.comfyui.family import comfy_forward_arguments

SPARSE = {"model": "qwen_image", "name": "test_3", "speed_gate": "sparse", "default": {"kernel_size": [3, 3]}}
STEPS = 2


@pytest.fixture
def model(comfy, comfy_models):
    name = QWEN_IMAGE_EDIT.name
    if name not in comfy_models:
        comfy_models[name] = QWEN_IMAGE_EDIT.build(comfy)
    return comfy_models[name]


@pytest.mark.parametrize("method, indices", [("index", (0, 1, 2)), ("offset", (0, 1, 1))])
def test_layout_matches_comfyui_position_ids(model, method, indices):
    diffusion_model = model.model.diffusion_model
    generator = torch.Generator().manual_seed(0)
    refs = [torch.randn(1, *shape, generator=generator) for shape in EDIT_REFERENCES]
    # as the DIFFUSION_MODEL executor gets them: positional up to transformer_options, the rest by name
    args = (torch.randn(QWEN_IMAGE_EDIT.latent, generator=generator), torch.tensor([0.5]),
            torch.randn(1, TEXT_TOKENS, 32, generator=generator), None, None, refs, {})
    kwargs = {"ref_latents_method": method}
    layout = COMFY_QWEN_IMAGE.token_layout(diffusion_model, comfy_forward_arguments(diffusion_model, args, kwargs))
    assert (layout.problem, layout.text_len, layout.text_first) == (None, TEXT_TOKENS, True)
    assert (layout.grid, layout.extra_grids) == (QWEN_IMAGE_EDIT.grid, QWEN_IMAGE_EDIT.reference_grids)

    ids = []  # ComfyUI's (index, row, column) position id of every token, in token order
    handle = diffusion_model.pe_embedder.register_forward_pre_hook(lambda module, inputs: ids.append(inputs[0][0]))
    try:
        with torch.no_grad():
            diffusion_model(*args, **kwargs)
    finally:
        handle.remove()
    ids = ids[0]
    text, offset = ids[:TEXT_TOKENS], TEXT_TOKENS
    assert (text == text[:, :1]).all() and (text[1:, 0] - text[:-1, 0] == 1).all()
    for (height, width), index in zip((layout.grid, *layout.extra_grids), indices, strict=True):
        grid = ids[offset:offset + height * width].reshape(height, width, 3)
        offset += height * width
        assert (grid[..., 0] == index).all()
        assert (grid[..., 1] - grid[:1, :1, 1] == torch.arange(height)[:, None]).all()  # rows
        assert (grid[..., 2] - grid[:1, :1, 2] == torch.arange(width)[None, :]).all()  # row-major
    assert offset == ids.shape[0]


def _sample(comfy, model, positive_negative):
    patched = patch_model(model, SPARSE, backend="reference")
    forwards = []
    handle = patched.model.diffusion_model.register_forward_hook(lambda *_: forwards.append(1))
    case = dataclasses.replace(QWEN_IMAGE_EDIT, conditioning=positive_negative)
    try:
        sample(comfy, patched, case, steps=STEPS)
    finally:
        handle.remove()
    return dict(patch_of(patched).totals()), len(forwards)


def test_text_encoder_mask_never_reaches_the_attention(comfy, model):
    # ComfyUI's Qwen text encoder adds its padding mask to the conditioning where a prompt is padded;
    # model_base.QwenImage does not pass it on, and the blocks hand their attention no mask
    def padded(generator, batch):
        mask = torch.ones(batch, TEXT_TOKENS, dtype=torch.long)
        mask[:, -2:] = 0
        return conditioning(generator, batch, EDIT_REFERENCES, attention_mask=mask)

    totals, forwards = _sample(comfy, model, padded)
    assert totals == {"sparse": forwards * len(model.model.diffusion_model.transformer_blocks)}


def test_negative_without_references(comfy, model):
    # the positive from TextEncodeQwenImageEdit (offset references), the negative from a plain text
    # encoder, 3 tokens longer: ComfyUI cannot batch them, each call has its own layout
    def mixed(generator, batch):
        positive, _ = conditioning(generator, batch, EDIT_REFERENCES, reference_latents_method="offset")
        negative, _ = conditioning(generator, batch, text_tokens=TEXT_TOKENS + 3)
        return positive, negative

    totals, forwards = _sample(comfy, model, mixed)
    assert forwards == 2 * STEPS  # not batched
    assert totals == {"sparse": forwards * len(model.model.diffusion_model.transformer_blocks)}
