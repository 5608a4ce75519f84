"""Wan (comfy.ldm.wan.model.WanModel, VaceWanModel): text-to-video, image-to-video, Phantom's subject
frames, Wan 2.2 Fun's reference image, VACE; conditioning as ComfyUI's Wan nodes (comfy_extras/nodes_wan.py)
set it. Every latent is 3 frames of 10x14: a 3x5x7 token grid in 1x2x2 patches (odd sizes, T > 1).
The generic contract (CASES) runs t2v, i2v, Phantom and VACE over every backend; the Fun reference
and the 5B cases, whose layouts differ from t2v's only in the grid or the latent's channels, run in
tests/comfyui/families/test_wan.py on the reference backend.
"""

from __future__ import annotations

from typing import Callable

import torch

from comfyui.cases.base import ComfyCase, patcher

TEXT_DIM, TEXT_TOKENS = 16, 6
IMAGE_TOKENS = 5  # CLIP vision tokens (257 in the real models; img_emb takes any count)
# head_dim 32: the backends' tiles; 2 heads, 2 blocks
UNET = dict(image_model="wan2.1", model_type="t2v", patch_size=(1, 2, 2), text_len=TEXT_TOKENS, in_dim=16, dim=64,
            ffn_dim=64, freq_dim=32, text_dim=TEXT_DIM, out_dim=16, num_heads=2, num_layers=2, window_size=(-1, -1),
            qk_norm=True, cross_attn_norm=True, eps=1e-6)
LATENT = (1, 16, 3, 10, 14)
GRID = (3, 5, 7)


def text(generator: torch.Generator, batch: int) -> torch.Tensor:
    return torch.randn(batch, TEXT_TOKENS, TEXT_DIM, generator=generator)


def with_values(values: Callable[[torch.Generator], dict],
                negative_values: Callable[[torch.Generator, dict], dict] | None = None):
    """(generator, batch) -> (positive, negative): text conditioning (CLIPTextEncode: no pooled output
    for umT5) with ``values(generator)`` set on both (a node's conditioning_set_values), or
    ``negative_values(generator, positive's values)`` on the negative."""
    def conditioning(generator: torch.Generator, batch: int):
        shared = values(generator)
        negative = shared if negative_values is None else negative_values(generator, shared)
        return [[text(generator, batch), dict(shared)]], [[text(generator, batch), dict(negative)]]
    return conditioning


# --- text to video (Wan 2.1 / 2.2 T2V) -------------------------------------------------------------

def build_t2v(comfy):
    return patcher(comfy, comfy.supported_models.WAN21_T2V, UNET)


WAN = ComfyCase("wan", "wan", build_t2v, LATENT, GRID, with_values(lambda generator: {}))


# --- image to video (Wan 2.1 I2V): WanImageToVideo with a start image and a CLIP vision output ------

def build_i2v(comfy):
    # 36 input channels: the latent, 4 mask channels and the start image's latent (c_concat)
    return patcher(comfy, comfy.supported_models.WAN21_I2V, {**UNET, "model_type": "i2v", "in_dim": 36})


def i2v_values(generator: torch.Generator) -> dict:
    import comfy.clip_vision

    vision = comfy.clip_vision.Output()
    vision.penultimate_hidden_states = torch.randn(1, IMAGE_TOKENS, 1280, generator=generator)
    mask = torch.ones(1, 1, *LATENT[2:])
    mask[:, :, :1] = 0.0  # the start image's frame is kept
    return {"concat_latent_image": torch.randn(1, *LATENT[1:], generator=generator), "concat_mask": mask,
            "clip_vision_output": vision}


WAN_I2V = ComfyCase("wan-i2v", "wan", build_i2v, LATENT, GRID, with_values(i2v_values))


# --- Phantom (WanPhantomSubjectToVideo): two subject images, one latent frame each, after the video ----

def phantom_values(generator: torch.Generator) -> dict:
    return {"time_dim_concat": torch.randn(1, 16, 2, *LATENT[3:], generator=generator)}


def phantom_negative(generator: torch.Generator, positive: dict) -> dict:
    import comfy.latent_formats

    # the node's negative_img_text output: the subject frames zeroed in the model's latent space
    # (process_out(0), which the model's process_latent_in maps back to 0)
    return {"time_dim_concat": comfy.latent_formats.Wan21().process_out(torch.zeros_like(positive["time_dim_concat"]))}


# each subject frame is a reference grid of its own, after the video's tokens
WAN_PHANTOM = ComfyCase("wan-phantom", "wan", build_t2v, LATENT, GRID, with_values(phantom_values, phantom_negative),
                        reference_grids=((1, 5, 7), (1, 5, 7)))


# --- Wan 2.2 Fun (Wan22FunControlToVideo): the reference image through ref_conv, before the video ----

def build_fun_reference(comfy):
    return patcher(comfy, comfy.supported_models.WAN21_T2V, {**UNET, "in_dim_ref_conv": 16})


def fun_reference_values(generator: torch.Generator) -> dict:
    # the node's vae.encode(ref_image): one latent frame of the video's size
    return {"reference_latents": [torch.randn(1, 16, 1, *LATENT[3:], generator=generator)]}


# the reference's 5x7 tokens come first: one more frame of the grid
WAN_FUN_REFERENCE = ComfyCase("wan-fun-reference", "wan", build_fun_reference, LATENT, (4, 5, 7),
                              with_values(fun_reference_values))


# --- Wan 2.2 TI2V 5B: a 48-channel latent (16x VAE) -------------------------------------------------

def build_5b(comfy):
    return patcher(comfy, comfy.supported_models.WAN22_T2V, {**UNET, "in_dim": 48, "out_dim": 48})


WAN22_5B = ComfyCase("wan22-5b", "wan", build_5b, (1, 48, 3, 10, 14), GRID, with_values(lambda generator: {}))


# --- VACE (WanVaceToVideo): a control video (inactive + reactive latents) and its mask --------------

def build_vace(comfy):
    # one Wan block and the VACE block feeding it (control video latents 32 + mask 64 channels)
    return patcher(comfy, comfy.supported_models.WAN21_Vace,
                   {**UNET, "model_type": "vace", "num_layers": 1, "vace_layers": 1, "vace_in_dim": 96})


def vace_values(generator: torch.Generator) -> dict:
    return {"vace_frames": [torch.randn(1, 32, *LATENT[2:], generator=generator)],
            "vace_mask": [torch.ones(1, 64, *LATENT[2:])], "vace_strength": [1.0]}


WAN_VACE = ComfyCase("wan-vace", "wan_vace", build_vace, LATENT, GRID, with_values(vace_values))
