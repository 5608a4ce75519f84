"""HunyuanVideo 1.0 (text-to-video, image-to-video, SkyReels-V1 image-to-video) as ComfyUI loads it:
``comfy.ldm.hunyuan_video.model.HunyuanVideo``.

Its double and single blocks are FLUX's with ``flipped_img_txt``: each attends over the joint
sequence [video, text], text AFTER the visual tokens. The video's (frames, height, width) token
grid is the (B, C, T, H, W) latent in the model's 1x2x2 patches, row-major (the patch embedding
flattens T, H, W in that order). The text is the token refiner's output, ``context``'s length.

What the variants add:

* image-to-video by channel concat (v1 "concat", the 33-channel I2V and 32-channel SkyReels
  checkpoints) and v2 "replace" (``guiding_frame_index``: per-frame modulation) add no tokens;
* "custom" (``ref_latent``) puts the reference latent's tokens BEFORE the video's: the sequence is
  [reference, video, text]. The layout lists grids in token order, so ``grid`` is then the
  reference's and the video's grid is the (only) extra grid. Each grid's tokens see their
  neighborhood in their own grid, every token of the other and the text (the multi-grid rule
  of FLUX Kontext's references: which grid comes first changes nothing).

ComfyUI's text encoder for this model (LLaMA + CLIP-L) pads nothing for a prompt and drops an
all-valid ``attention_mask``, so the standard conditioning has none. A conditioning that carries one
makes the model pass an additive float (1, 1, video + text) key mask (``-finfo.max`` on padded
text keys) to every block: those calls run stock, counted, as any masked call does (the seam
honours no mask yet). Stock ComfyUI fails on a batch of two masked rows (its mask has one row).

The class also runs HunyuanImage 2.1 (a 2-D patch) and its refiner (1x1x1): other models, other
recipes (diffusers family ``hunyuan_image``). They are told apart by what HunyuanVideo 1.0 alone
has here: a 3-D patch and the CLIP-L pooled-vector input (``vector_in``); patching them raises.
"""

from __future__ import annotations

from typing import Any

import torch

from ...families.base import TokenLayout
from ..family import BlockStack, ComfyFamily, patched_grid


def token_layout(model: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
    x, context = inputs.get("x"), inputs.get("context")
    if not isinstance(x, torch.Tensor) or x.ndim != 5 or not isinstance(context, torch.Tensor):
        return TokenLayout(None, 0, False, "HunyuanVideo called without a (batch, channels, frames, height, width) "
                                           "latent and a context")
    patch = tuple(model.patch_size)
    grids = [patched_grid(tuple(x.shape[-3:]), patch)]
    reference = inputs.get("ref_latent")
    if reference is not None:  # its tokens come first (see the module's docstring)
        if not isinstance(reference, torch.Tensor) or reference.ndim != 5:
            return TokenLayout(None, int(context.shape[1]), False, "ref_latent is not a (batch, channels, frames, "
                                                                   "height, width) latent")
        grids.insert(0, patched_grid(tuple(reference.shape[-3:]), patch))
    return TokenLayout(grids[0], int(context.shape[1]), False, extra_grids=tuple(grids[1:]))


def is_hunyuan_video(model: torch.nn.Module) -> bool:
    """HunyuanVideo 1.0 among the class's models (the module's docstring says why)."""
    return len(model.patch_size) == 3 and getattr(model, "vector_in", None) is not None


COMFY_HUNYUAN_VIDEO = ComfyFamily(
    name="hunyuan_video",
    model_class="comfy.ldm.hunyuan_video.model:HunyuanVideo",
    blocks=(BlockStack("double_blocks", "transformer_blocks.{}.attn"),
            BlockStack("single_blocks", "single_transformer_blocks.{}.attn")),
    token_layout=token_layout,
    attention_shape=lambda model: (model.num_heads, model.hidden_size // model.num_heads),
    accepts=is_hunyuan_video,
    description="HunyuanVideo 1.0 T2V / I2V / SkyReels-V1 I2V (comfy.ldm.hunyuan_video.model.HunyuanVideo with "
                "a 3-D patch and the CLIP-L pooled input; not HunyuanImage 2.1 or its refiner, which share the class)",
)
