"""LTX-Video (comfy.ldm.lightricks.model.LTXVModel): text-to-video, and LTXVAddGuide's appended keyframe."""

from __future__ import annotations

import torch

from comfyui.cases.base import ComfyCase, patcher

# 2 heads x 32 = 64 wide; the text is projected to the model's width, so cross_attention_dim = 64
UNET = dict(image_model="ltxv", in_channels=128, cross_attention_dim=64, attention_head_dim=32, num_attention_heads=2,
            caption_channels=32, num_layers=2)
TEXT_TOKENS, VALID_TEXT = 6, (4, 6)  # positive, negative: the T5 encoder pads, and says so in attention_mask
FRAME_RATE = 24.0  # LTXVConditioning's frame_rate
SCALE_FACTORS = (8, 32, 32)  # the LTXV VAE's (time, height, width) downscale (vae.downscale_index_formula)


def build(comfy):
    return patcher(comfy, comfy.supported_models.LTXV, UNET)


def keyframe_positions(guide_latent: tuple[int, ...], frame_idx: int) -> torch.Tensor:
    """The ``keyframe_idxs`` LTXVAddGuide adds for a guide latent placed at pixel frame ``frame_idx``:
    its tokens' pixel coordinates, from ComfyUI's own patchifier and coordinate helpers (the node
    module imports PyAV, which the tests don't need)."""
    from comfy.ldm.lightricks.symmetric_patchifier import SymmetricPatchifier, latent_to_pixel_coords

    _, coords = SymmetricPatchifier(1).patchify(torch.zeros(guide_latent))
    pixels = latent_to_pixel_coords(coords, SCALE_FACTORS, causal_fix=frame_idx == 0)
    pixels[:, 0] += frame_idx
    return pixels


def conditioning(generator: torch.Generator, batch: int, keyframes: torch.Tensor | None = None):
    """(positive, negative) as CLIPTextEncode (T5: context and its attention_mask), LTXVConditioning
    (frame_rate) and, with ``keyframes``, LTXVAddGuide (keyframe_idxs, on both) leave them."""
    def cond(valid):
        mask = (torch.arange(TEXT_TOKENS) < valid).long().expand(batch, -1)
        options = {"attention_mask": mask, "frame_rate": FRAME_RATE}
        if keyframes is not None:
            options["keyframe_idxs"] = keyframes
        return [[torch.randn(batch, TEXT_TOKENS, 32, generator=generator), options]]

    return tuple(cond(valid) for valid in VALID_TEXT)


# 3 latent frames (17 video frames) of 5x7 (160x224 pixels): patch 1x1x1, a 3x5x7 token grid
LTX_VIDEO = ComfyCase("ltx_video", "ltx_video", build, (1, 128, 3, 5, 7), (3, 5, 7), conditioning)
# LTXVAddGuide: an image guiding video frame 16 is one latent frame appended after the 3 video
# frames (latent 4x5x5); its 25 tokens (keyframe_idxs) are extra keys after the 3x5x5 grid
GUIDE = (1, 128, 1, 5, 5)
LTX_VIDEO_KEYFRAME = ComfyCase("ltx_video-keyframe", "ltx_video", build, (1, 128, 4, 5, 5), (3, 5, 5),
                               lambda generator, batch: conditioning(generator, batch, keyframe_positions(GUIDE, 16)))
