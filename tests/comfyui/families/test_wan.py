"""Wan on ComfyUI: what the generic contract (test_families.py) does not reach.

* which attention call of a block is GNA's: i2v blocks make three (self, image cross, text cross);
  only the self attention leaves ComfyUI's attention function;
* layouts other than the contract cases': Wan 2.2 Fun's ref_conv reference (a leading frame),
  Wan 2.2 5B's 48-channel latent with per-frame timesteps, a latent padded up to the patch, batch 2,
  VACE with two control videos (each VACE block attends once per control video);
* inputs that make no grid (the call then runs stock, counted), and the Wan subclasses left out.

On the reference backend: the other backends' numerics are the contract's, over the same kind of
grid. Grids are worked out by hand from the latent (patch 1x2x2, padded up).
"""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from comfyui.cases import wan as cases
from comfyui.cases.base import TOLERANCE, patcher, relative_difference, sample
from na_accel.comfyui import patch_model, patch_of
from na_accel.comfyui.families.wan import COMFY_WAN, token_layout
from na_accel.errors import UnsupportedModelError

FULL, SPARSE = 255, 3



def _recipe(family: str, kernel: int) -> dict:
    return {"model": family, "name": f"test_{kernel}", "speed_gate": "sparse", "default": {"kernel_size": [kernel] * 3}}




def _sampled(model, run):
    """(what ``run(model)`` sampled, the diffusion model's forward calls, totals of the GNA routes)."""
    forwards = []
    handle = model.model.diffusion_model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        out = run(model)
    finally:
        handle.remove()
    patch = patch_of(model)
    return out, len(forwards), (dict(patch.totals()) if patch else {})


def _check(model, family: str, run, grid, self_attentions_per_forward: int, reference_grids=()):
    """The full window reproduces stock; a small one changes it, on ``grid``; every self attention
    (``self_attentions_per_forward`` per call of the diffusion model) ran GNA, counted once."""
    stock, _, _ = _sampled(model, run)
    full, forwards, totals = _sampled(patch_model(model, _recipe(family, FULL), backend="reference"), run)
    assert relative_difference(full, stock) <= TOLERANCE
    assert forwards > 0 and totals == {"full window": forwards * self_attentions_per_forward}
    patched = patch_model(model, _recipe(family, SPARSE), backend="reference")
    sparse, forwards, totals = _sampled(patched, run)
    assert relative_difference(sparse, stock) > 1e-4
    assert totals == {"sparse": forwards * self_attentions_per_forward}
    resolved = [route.windows.last for route in patch_of(patched).routes.values()]
    assert {r.window.grid for r in resolved} == {grid}
    assert {tuple(w.grid for w in r.extra) for r in resolved} == {reference_grids}


def _sampler(comfy, case, **kwargs):
    return lambda model: sample(comfy, model, case, **kwargs)


# --- which call is routed -------------------------------------------------------------------------


def _recording(model, keys: list):
    """A clone whose attention override (set before na_accel's, which keeps it as the stock path)
    records the key length of every call that reaches ComfyUI's attention function."""
    def record(func, q, k, v, *args, **kwargs):
        keys.append(k.shape[-2] if kwargs.get("skip_reshape") else k.shape[1])
        return func(q, k, v, *args, **kwargs)

    clone = model.clone()
    clone.model_options.setdefault("transformer_options", {})["optimized_attention_override"] = record
    return clone


def test_i2v_only_the_self_attention_leaves_comfyuis_attention(comfy, models):
    case = cases.WAN_I2V
    video = 3 * 5 * 7
    blocks = cases.UNET["num_layers"]
    stock_keys, gna_keys = [], []
    _, forwards, _ = _sampled(_recording(models(case), stock_keys), _sampler(comfy, case))
    # per block: self attention over the video, cross attention to the CLIP image tokens, then to the text
    assert stock_keys == [video, cases.IMAGE_TOKENS, cases.TEXT_TOKENS] * blocks * forwards
    patched = patch_model(_recording(models(case), gna_keys), _recipe("wan", SPARSE), backend="reference")
    _, forwards, totals = _sampled(patched, _sampler(comfy, case))
    assert gna_keys == [cases.IMAGE_TOKENS, cases.TEXT_TOKENS] * blocks * forwards  # both cross attentions stock
    assert totals == {"sparse": blocks * forwards}  # and uncounted


# --- layouts the contract cases don't have ---------------------------------------------------------


def test_fun_reference_is_the_grids_first_frame(comfy, models):
    # Wan22FunControlToVideo's ref_image: 10x14 latent -> 5x7 ref_conv tokens, in front of the 3x5x7 video
    case = cases.WAN_FUN_REFERENCE
    _check(models(case), "wan", _sampler(comfy, case), (4, 5, 7), cases.UNET["num_layers"])


def test_wan22_5b_with_per_frame_timesteps(comfy, models):
    # Wan22ImageToVideoLatent with a start image: its noise mask keeps frame 0, so WAN22 gives every
    # frame its own timestep (the blocks' 4-D modulation); 48 channels, 10x14 -> 3x5x7 tokens
    case = cases.WAN22_5B
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(case.latent, generator=generator)
    latent = torch.zeros(case.latent)
    latent[:, :, :1] = torch.randn(1, 48, 1, *case.latent[3:], generator=generator)
    mask = torch.ones(1, 1, *case.latent[2:])
    mask[:, :, :1] = 0.0
    positive, negative = case.conditioning(generator, 1)

    def run(model):
        return comfy.sample.sample(model, noise, 2, case.cfg, case.sampler, "simple", positive, negative, latent,
                                   noise_mask=mask, disable_pbar=True, seed=0)

    _check(models(case), "wan", run, (3, 5, 7), cases.UNET["num_layers"])


def test_padded_latent_and_batch_2(comfy, models):
    # a 9x13 latent is padded up to 10x14 (pad_to_patch_size): 3 x ceil(9/2) x ceil(13/2) = 3x5x7
    case = cases.WAN
    _check(models(case), "wan", _sampler(comfy, case, batch=2, latent=(2, 16, 3, 9, 13)), (3, 5, 7),
           cases.UNET["num_layers"])


def test_vace_blocks_attend_once_per_control_video(comfy, models):
    case = cases.WAN_VACE

    def two_control_videos(generator, batch):
        positive, negative = case.conditioning(generator, batch)
        second = {"vace_frames": [torch.randn(1, 32, *cases.LATENT[2:], generator=generator)],
                  "vace_mask": [torch.ones(1, 64, *cases.LATENT[2:])], "vace_strength": [0.5]}
        # what a second WanVaceToVideo appends (conditioning_set_values(..., append=True))
        return [[c, {k: v + second[k] for k, v in options.items()}] for c, options in positive], \
               [[c, {k: v + second[k] for k, v in options.items()}] for c, options in negative]

    two = dataclasses.replace(case, conditioning=two_control_videos)
    # one Wan block, then its VACE block over each control video's 3x5x7 tokens
    _check(models(case), "wan_vace", _sampler(comfy, two), (3, 5, 7), 1 + 2)


# --- no grid, and the subclasses left out ----------------------------------------------------------


def _model(ref_conv=None):
    return types.SimpleNamespace(patch_size=(1, 2, 2), ref_conv=ref_conv)


def test_layout_reads_the_latent_the_reference_and_the_concatenated_frames():
    x = torch.zeros(1, 16, 3, 9, 13)
    assert token_layout(_model(), {"x": x}).grid == (3, 5, 7)
    # reference_latent counts only where the model has ref_conv (ComfyUI ignores it otherwise)
    assert token_layout(_model(), {"x": x, "reference_latent": torch.zeros(1, 16, 10, 14)}).grid == (3, 5, 7)
    layout = token_layout(_model(ref_conv=object()), {"x": torch.zeros(1, 16, 3, 10, 14),
                                                      "reference_latent": torch.zeros(1, 16, 10, 14),
                                                      "time_dim_concat": torch.zeros(1, 16, 2, 10, 14)})
    assert (layout.grid, layout.extra_grids, layout.text_len) == ((4, 5, 7), ((1, 5, 7), (1, 5, 7)), 0)


@pytest.mark.parametrize("inputs, problem", [
    ({"x": torch.zeros(1, 16, 10, 14)}, "without a (batch, channels, frames, height, width) latent"),
    # ref_conv floors a 9x13 reference to 4x6 tokens; the video is padded up to 5x7
    ({"x": torch.zeros(1, 16, 3, 9, 13), "reference_latent": torch.zeros(1, 16, 9, 13)}, "not one frame"),
    ({"x": torch.zeros(1, 16, 3, 10, 14), "time_dim_concat": torch.zeros(1, 16, 1, 8, 14)}, "is not the video's"),
])
def test_no_grid_says_why(inputs, problem):
    layout = token_layout(_model(ref_conv=object()), inputs)
    assert layout.grid is None and problem in layout.problem


def test_camera_model_is_not_matched(comfy):
    # CameraWanModel subclasses WanModel; the family matches the exact class
    model = patcher(comfy, comfy.supported_models.WAN21_Camera, {**cases.UNET, "model_type": "camera", "in_dim": 32})
    assert not COMFY_WAN.handles(model.model.diffusion_model)
    with pytest.raises(UnsupportedModelError, match="CameraWanModel"):
        patch_model(model, _recipe("wan", SPARSE))
