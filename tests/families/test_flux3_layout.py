"""FLUX.3's token layout (na_accel.families.flux3), read from the forward inputs the way the modular
pipeline builds them: (h, w) ids scaled by 0.5, images told apart by l; checked against the grids
the inputs were built from, and the joint single blocks' sequence length in the real transformer."""

from __future__ import annotations

import torch

from na_accel import tiny
from na_accel.errors import Refusal
from na_accel.families.flux3 import Flux3Layout, scaled_image_grids
from na_accel.families.flux3_spec import FLUX3, image_ids


def test_layout_of_image_and_reference_grids():
    transformer = tiny.tiny_flux3_transformer(seed=0)
    inputs = tiny.flux3_transformer_inputs(transformer, (5, 7), batch=2, text_len=6, reference_grids=[(3, 4), (2, 5)])
    layout = Flux3Layout()(transformer, inputs)
    assert (layout.grid, layout.extra_grids, layout.text_len, layout.text_first) == ((5, 7), ((3, 4), (2, 5)), 6, True)
    seen = []
    hook = transformer.single_transformer_blocks[0].attn.register_forward_pre_hook(
        lambda m, a, k: seen.append(k["hidden_states"].shape[1]), with_kwargs=True)
    with torch.no_grad():
        transformer(**inputs)
    hook.remove()
    assert seen == [6 + layout.visual_len] == [6 + 35 + 12 + 10]  # [text, image, references], as the layout says


def test_ids_that_are_no_row_major_grid_are_refused():
    ids = image_ids(3, 4)
    assert scaled_image_grids(ids, "img_ids") == ((3, 4),)
    assert isinstance(scaled_image_grids(ids.flip(0), "img_ids"), Refusal)  # column-major / reversed order
    assert isinstance(scaled_image_grids(ids[:, :3], "img_ids"), Refusal)  # not (t, h, w, l)


def test_only_the_joint_blocks_are_routed():
    transformer = tiny.tiny_flux3_transformer(seed=0)
    names = [name for name, _ in FLUX3.adapter().attention_layers(transformer)]
    assert names == list(FLUX3.layer_names(transformer.config))
    assert names == ["single_transformer_blocks.0.attn", "single_transformer_blocks.1.attn"]


def _edit(pipe, window, backend):
    """One 1-step 128x128 generation of the tiny FLUX.3 pipeline editing a 64x96 reference image: the
    output and describe's totals (window None: stock)."""
    import numpy as np
    import PIL.Image

    import na_accel
    from na_accel.pipeline_parts import generated

    image = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8))
    kwargs = tiny.tiny_flux3_call(steps=1, height=128, width=128, output_type="latent", seed=1, image=image)
    if window is None:
        return torch.as_tensor(generated(pipe(**kwargs))), {}
    na_accel.patch(pipe, {"model": "flux3", "dense_steps": 0, "default": window}, backend=backend)
    try:
        out = torch.as_tensor(generated(pipe(**kwargs)))
        return out, dict(na_accel.describe(pipe).transformers[0].totals)
    finally:
        na_accel.unpatch(pipe)


def test_pipeline_with_a_reference_image_full_window_is_stock_and_sparse_is_reference():
    """The image-conditioned branch (image_cond tokens: a 4x6 reference grid after the 8x8 image)."""
    pipe = tiny.tiny_flux3_pipeline(seed=0)
    seen = []
    hook = pipe.transformer.register_forward_pre_hook(
        lambda m, a, k: seen.append(k["image_cond_ids"].shape[0]), with_kwargs=True)
    stock, _ = _edit(pipe, None, None)
    hook.remove()
    assert seen == [24, 24]  # the reference image's 4x6 tokens, in both CFG branches
    full, totals = _edit(pipe, {"kernel_size": 4096}, "reference")
    assert (full - stock).abs().max().item() <= 1e-5 and totals == {"full window": 4}
    sparse_window = {"kernel_size": [3, 3], "stride": [2, 1], "dilation": [1, 2]}
    reference, _ = _edit(pipe, sparse_window, "reference")
    for backend in ("flex-fna", "triton"):
        out, totals = _edit(pipe, sparse_window, backend)
        assert (out - reference).abs().max().item() <= 1e-5 and totals == {"sparse": 4}, backend
    assert (reference - stock).abs().max().item() > 1e-4
