"""LTX-Video on ComfyUI: what the family contract (test_families.py) does not reach.

* token order: ComfyUI's patchifier lays the (F, H, W) latent out row-major, one token per position;
* attn2 (cross attention to the padded T5 text, masked) runs ComfyUI's attention, uncounted;
* LTXVAddGuide's appended keyframe frames: extra keys after the grid, their rows through ComfyUI's
  attention; keyframe tokens that are not whole frames: no grid, every call stock, counted;
* image-to-video and guide denoise masks (per-token timesteps): the same tokens and grid; a full
  window reproduces stock, a small one changes it, the kept frames stay as they were.
"""

from __future__ import annotations

import pytest
import torch

from comfyui.cases.base import TOLERANCE, cpu_backends, relative_difference
from comfyui.cases.ltx_video import (
    GUIDE, LTX_VIDEO, LTX_VIDEO_KEYFRAME, TEXT_TOKENS, conditioning, keyframe_positions,
)
from na_accel.comfyui import patch_model, patch_of
from na_accel.comfyui.attention import OVERRIDE_KEY
from na_accel.comfyui.families.ltx_video import COMFY_LTX_VIDEO as FAMILY, token_layout
from na_accel.families.base import TokenLayout

SPARSE, FULL = 3, 255
LAYERS = 2  # the cases' num_layers


def _recipe(kernel: int) -> dict:
    return {"model": "ltx_video", "name": f"test_{kernel}", "speed_gate": "sparse",
            "default": {"kernel_size": [kernel] * 3}}





def _sample(comfy, patcher, latent, positive_negative, *, latent_image=None, noise_mask=None):
    """ComfyUI's sampling (2 euler steps, CFG 2): the sampled latent and the diffusion model's forward calls."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(latent, generator=generator)
    positive, negative = positive_negative(generator, 1)
    forwards = []
    handle = patcher.model.diffusion_model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        out = comfy.sample.sample(patcher, noise, 2, 2.0, "euler", "simple", positive, negative,
                                  torch.zeros(latent) if latent_image is None else latent_image,
                                  noise_mask=noise_mask, disable_pbar=True, seed=0)
    finally:
        handle.remove()
    return out, len(forwards)




def _recording(patcher, calls):
    """A clone whose attention override (as another node's would be) records each call's (queries,
    keys, mask) and runs ComfyUI's attention: na_accel keeps it for every call it runs stock."""
    def record(func, *args, **kwargs):
        q, k = args[0], args[1]
        tokens = (q.shape[2], k.shape[2]) if kwargs.get("skip_reshape") else (q.shape[1], k.shape[1])
        mask = args[4] if len(args) > 4 else kwargs.get("mask")
        calls.append((*tokens, None if mask is None else tuple(mask.shape)))
        return func(*args, **kwargs)

    clone = patcher.clone()
    clone.model_options.setdefault("transformer_options", {})[OVERRIDE_KEY] = record
    return clone


def test_tokens_are_the_latent_row_major(comfy, models):
    diffusion_model = models(LTX_VIDEO).model.diffusion_model
    assert tuple(diffusion_model.patchifier.patch_size) == (1, 1, 1)
    frames, height, width = LTX_VIDEO.grid
    index = torch.arange(frames * height * width, dtype=torch.float32).view(1, 1, frames, height, width)
    tokens, coords = diffusion_model.patchifier.patchify(index.expand(1, 2, -1, -1, -1))
    assert torch.equal(tokens[0, :, 0], index.flatten())  # token i is latent position i, row-major (F, H, W)
    grid = torch.stack(torch.meshgrid(*(torch.arange(n) for n in LTX_VIDEO.grid), indexing="ij")).flatten(1)
    assert torch.equal(coords[0], grid)  # and the RoPE's coordinates are that grid's


def test_cross_attention_runs_stock_uncounted(comfy, models):
    calls = []
    patched = patch_model(_recording(models(LTX_VIDEO), calls), _recipe(SPARSE), backend="reference")
    _, forwards = _sample(comfy, patched, LTX_VIDEO.latent, conditioning)
    video = 3 * 5 * 7
    # only attn2 reached ComfyUI's attention: the video queries over the text keys, with the text's
    # padding mask (additive, (batch, 1, 1, text)); attn1, never given a mask, ran GNA, counted once
    assert calls and set(calls) == {(video, TEXT_TOKENS, (2, 1, 1, TEXT_TOKENS))}
    assert len(calls) == forwards * LAYERS
    assert dict(patch_of(patched).totals()) == {"sparse": forwards * LAYERS}


def test_keyframe_layout(comfy):  # keyframe_positions: ComfyUI's patchifier
    x = torch.zeros(2, 128, 5, 4, 6)
    plane = 4 * 6
    model = type("LTXV", (), {"patchifier": type("P", (), {"patch_size": (1, 1, 1)})()})()  # what the reader reads
    assert token_layout(model, {"x": x}) == TokenLayout((5, 4, 6), 0, False)
    # one guide (LTXVAddGuide: up to 2 frames per guide), then two guides: frames after the video's
    one = keyframe_positions((2, 128, 1, 4, 6), 0)
    two = torch.cat([one, keyframe_positions((2, 128, 2, 4, 6), 17)], dim=2)
    assert token_layout(model, {"x": x, "keyframe_idxs": one}) == TokenLayout((4, 4, 6), plane, False)
    assert token_layout(model, {"x": x, "keyframe_idxs": two}) == TokenLayout((2, 4, 6), 3 * plane, False)
    for wrong in (one[:, :, :plane // 2], torch.cat([two, one, one], dim=2)):  # part of a frame; every frame
        layout = token_layout(model, {"x": x, "keyframe_idxs": wrong})
        assert layout.grid is None and "keyframe tokens are not whole 4x6 frames" in layout.problem


def test_keyframe_rows_run_comfyui_attention(comfy, models):
    """The guide frame's tokens attend densely, through ComfyUI's attention (backends that fuse
    them, as Triton does, are checked against the reference by the family contract)."""
    if "flex-fna" not in cpu_backends(3):
        pytest.skip("the NATTEN flex-fna backend is not available on this machine")
    calls = []
    patched = patch_model(_recording(models(LTX_VIDEO_KEYFRAME), calls), _recipe(SPARSE), backend="flex-fna")
    _, forwards = _sample(comfy, patched, LTX_VIDEO_KEYFRAME.latent, LTX_VIDEO_KEYFRAME.conditioning)
    tokens, guide = 4 * 5 * 5, 5 * 5
    assert calls.count((guide, tokens, None)) == forwards * LAYERS  # the guide rows: every key, no mask
    assert calls.count((tokens, TEXT_TOKENS, (2, 1, 1, TEXT_TOKENS))) == forwards * LAYERS  # attn2
    assert len(calls) == 2 * forwards * LAYERS
    assert dict(patch_of(patched).totals()) == {"sparse": forwards * LAYERS}
    assert {route.windows.last.grid for route in patch_of(patched).routes.values()} == {LTX_VIDEO_KEYFRAME.grid}


def test_keyframe_tokens_not_whole_frames_run_stock_counted(comfy, models):
    # keyframe positions for half a 5x5 frame: ComfyUI moves the last 10 tokens' RoPE positions; no grid
    partial = lambda g, batch: conditioning(g, batch, keyframe_positions((1, 128, 1, 2, 5), 16))  # noqa: E731
    stock, _ = _sample(comfy, models(LTX_VIDEO_KEYFRAME), LTX_VIDEO_KEYFRAME.latent, partial)
    patched = patch_model(models(LTX_VIDEO_KEYFRAME), _recipe(SPARSE), backend="reference")
    with pytest.warns(UserWarning, match="no token grid"):
        out, forwards = _sample(comfy, patched, LTX_VIDEO_KEYFRAME.latent, partial)
    assert torch.equal(out, stock)
    reason = "dense: no token grid: 10 keyframe tokens are not whole 5x5 frames at the end of the 4-frame latent"
    assert dict(patch_of(patched).totals()) == {reason: forwards * LAYERS}


def _image_to_video():
    """LTXVImgToVideo: the image's latent replaces the first frame, a denoise mask keeps it (strength 1)."""
    latent = torch.zeros(LTX_VIDEO.latent)
    latent[:, :, :1] = torch.randn(latent[:, :, :1].shape, generator=torch.Generator().manual_seed(3))
    mask = torch.ones(1, 1, LTX_VIDEO.latent[2], 1, 1)
    mask[:, :, :1] = 0.0
    return LTX_VIDEO, latent, mask


def _guided():
    """LTXVAddGuide at strength 1: the guide latent appended after the video frames, its mask 0."""
    latent = torch.zeros(LTX_VIDEO_KEYFRAME.latent)
    latent[:, :, -1:] = torch.randn(GUIDE, generator=torch.Generator().manual_seed(4))
    mask = torch.ones(1, 1, LTX_VIDEO_KEYFRAME.latent[2], 1, 1)
    mask[:, :, -1:] = 0.0
    return LTX_VIDEO_KEYFRAME, latent, mask


@pytest.mark.parametrize("scenario", [_image_to_video, _guided], ids=["image-to-video", "keyframe-guide"])
def test_denoise_masks_keep_the_grid(comfy, models, scenario):
    """Per-token timesteps change no token: the contract's layouts, so the reference backend (which
    the contract checks every backend against on them) stands for all."""
    case, latent, mask = scenario()
    run = lambda patcher: _sample(comfy, patcher, case.latent, case.conditioning,  # noqa: E731
                                  latent_image=latent, noise_mask=mask)
    stock, _ = run(models(case))
    for kernel, outcome in ((FULL, "full window"), (SPARSE, "sparse")):
        patched = patch_model(models(case), _recipe(kernel), backend="reference")
        out, forwards = run(patched)
        assert (relative_difference(out, stock) <= TOLERANCE) == (kernel == FULL)
        assert dict(patch_of(patched).totals()) == {outcome: forwards * LAYERS}
        assert {route.windows.last.grid for route in patch_of(patched).routes.values()} == {case.grid}
        kept = mask[0, 0, :, 0, 0] == 0  # the kept frames come back as they went in (the sampler's denoise mask)
        assert torch.allclose(out[:, :, kept], latent[:, :, kept], atol=1e-6)


def test_family_is_the_recipe_family():
    assert FAMILY.name == LTX_VIDEO.family == "ltx_video"
    assert FAMILY.blocks[0].layer_name.format(0) == "transformer_blocks.0.attn1"  # recipes/ltx_video_gna.yaml's names
