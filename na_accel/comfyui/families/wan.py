"""Wan 2.1 / 2.2 (``comfy.ldm.wan.model.WanModel``) and Wan-VACE (``comfy.ldm.wan.model.VaceWanModel``).

Every ``WanAttentionBlock`` (``blocks.<i>``, diffusers ``blocks.<i>.attn1``) makes its attention
calls in this order: self attention over the video tokens (q/k/v [B, S, heads * head_dim], no
``skip_reshape``: call 0, the one routed), then cross attention to the text (one call); the blocks
of ``model_type="i2v"`` checkpoints (those with a CLIP image projection, ``img_emb``: Wan 2.1 I2V,
FLF2V, Fun) attend to the CLIP image tokens first, then to the text (two calls). The cross
attentions run stock, uncounted: their keys are text / image tokens, which never join the self
attention's sequence (``clip_fea`` goes through ``img_emb`` into the cross attention's context; the
i2v / Fun conditioning latent, ``c_concat``, is concatenated to the latent's channels before the
patch embedding: same tokens).

Token layout of the self attention (no text in it): the video tokens, a row-major (frames, height,
width) grid of the latent (B, C, T, H, W) in ``patch_size`` (1, 2, 2) patches, padded up as ComfyUI
pads it (``comfy.ldm.common_dit.pad_to_patch_size``); the same for Wan 2.2 5B's 48-channel latent.
Two conditionings add tokens, both read from the diffusion model's inputs:

* ``reference_latent`` on a model with ``ref_conv`` (Wan 2.2 Fun Control / Fun InP's reference
  image, a (B, C, H, W) latent): its tokens come *before* the video's and ComfyUI gives them the
  RoPE position of a frame just before the first (``t_len + 1`` frames), so the grid is
  (1 + frames, height, width): the reference is windowed in time like any other frame, as the
  diffusers Wan-VACE family treats its leading reference frames (``TokenLayout.extra_grids`` only
  follow the main grid). A reference whose ``ref_conv`` tokens are not one frame of the video's
  height x width (an odd latent side: ``ref_conv`` floors, the latent is padded up) is no grid
  (the call would run stock, counted; ComfyUI's own RoPE does not fit those tokens either).
* ``time_dim_concat`` (WanPhantomSubjectToVideo's subject images, one latent frame each) is
  appended to the video's frames: each of its frames is a reference grid (1, height, width) after
  the video's, attended whole by every video query, as FLUX.1 Kontext's reference images are.

VaceWanModel (recipe family ``wan_vace``): the Wan blocks as above, then its VACE blocks
(``vace_blocks.<j>``, diffusers ``vace_blocks.<j>.attn1``), each called once per control video
(``vace_frames`` entry) after the Wan block it feeds; their self attention is over the control
tokens, the same (frames, height, width) grid (ComfyUI's ``WanVaceToVideo`` puts a reference image
in front of both the latent and the control video: a leading frame of the grid), then a cross
attention to the text, stock. The other subclasses are not matched (``ComfyFamily`` matches the
exact class), so the node refuses them: WanModel_S2V appends reference and motion tokens with RoPE
of their own and HumoWanModel reference frames and audio cross attention, AnimateWanModel adds face
and pose inputs; CameraWanModel keeps WanModel's tokens but is not tested here.
"""

from __future__ import annotations

from typing import Any

import torch

from ...families.base import TokenLayout
from ..family import BlockStack, ComfyFamily, patched_grid


def token_layout(model: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
    x = inputs.get("x")
    if not isinstance(x, torch.Tensor) or x.ndim != 5:
        return TokenLayout(None, 0, False, "Wan called without a (batch, channels, frames, height, width) latent")
    patch = tuple(model.patch_size)
    frames, height, width = patched_grid(tuple(x.shape[-3:]), patch)

    reference = inputs.get("reference_latent")
    if getattr(model, "ref_conv", None) is not None and reference is not None:
        # ref_conv: a 2-D convolution with the spatial patch as kernel and stride, no padding
        ref_tokens = tuple(n // p for n, p in zip(reference.shape[-2:], patch[1:]))
        if ref_tokens != (height, width):
            return TokenLayout(None, 0, False, f"the reference latent's {ref_tokens[0]}x{ref_tokens[1]} tokens in "
                                               f"front of the video are not one frame of its {height}x{width} grid")
        frames += 1

    extra: tuple[tuple[int, ...], ...] = ()
    concat = inputs.get("time_dim_concat")
    if concat is not None:
        concat_frames, concat_height, concat_width = patched_grid(tuple(concat.shape[-3:]), patch)
        if (concat_height, concat_width) != (height, width):  # ComfyUI cannot concatenate them either
            return TokenLayout(None, 0, False, f"time_dim_concat's {concat_height}x{concat_width} grid is not the "
                                               f"video's {height}x{width}")
        extra = ((1, height, width),) * concat_frames
    return TokenLayout((frames, height, width), 0, False, extra_grids=extra)


def _attention_shape(model: torch.nn.Module) -> tuple[int, int]:
    return model.num_heads, model.dim // model.num_heads


COMFY_WAN = ComfyFamily(
    name="wan",
    model_class="comfy.ldm.wan.model:WanModel",
    blocks=(BlockStack("blocks", "blocks.{}.attn1"),),
    token_layout=token_layout,
    attention_shape=_attention_shape,
    description="Wan 2.1 / 2.2 t2v, i2v, FLF2V, Fun, 5B ti2v (comfy.ldm.wan.model.WanModel)",
)

COMFY_WAN_VACE = ComfyFamily(
    name="wan_vace",
    model_class="comfy.ldm.wan.model:VaceWanModel",
    blocks=(BlockStack("blocks", "blocks.{}.attn1"), BlockStack("vace_blocks", "vace_blocks.{}.attn1")),
    token_layout=token_layout,
    attention_shape=_attention_shape,
    description="Wan 2.1 VACE / Wan 2.2 VACE-Fun (comfy.ldm.wan.model.VaceWanModel)",
)
