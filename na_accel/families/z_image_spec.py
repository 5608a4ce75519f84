"""Z-Image (ZImageTransformer2DModel): the family spec. The adapter is ``z_image.py`` (imports diffusers).

Single-stream joint attention in the 30 main layers (``layers.<i>.attention``) over one sequence per
image: the image tokens, a row-major (height, width) grid of 2x2 latent patches (VAE 8x: one token
per 16x16 pixels), padded to a multiple of 32 with a learned pad token, then the caption (Qwen3
hidden states, each prompt its own length) padded to a multiple of 32 likewise. The forward takes
lists: ``x`` (one (C, 1, H, W) latent per row), ``t`` and ``cap_feats`` (one (tokens, dim) caption
per row).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


SEQ_MULTI_OF = 32  # the forward pads each image's tokens and each caption to a multiple of it (diffusers' own constant)


def padded(n: int) -> int:
    """``n`` tokens as the forward pads them: up to a multiple of ``SEQ_MULTI_OF``."""
    return n + (-n) % SEQ_MULTI_OF


def attention_shape(config: Mapping[str, Any]) -> tuple[int, int]:
    """(heads, head_dim): ``dim`` split over ``n_heads``."""
    return int(config["n_heads"]), int(config["dim"]) // int(config["n_heads"])


def joint_text_tokens(grid: tuple[int, ...], text_len: int) -> int:
    """The tokens after the image grid for a caption of ``text_len`` tokens: the image's pad tokens
    and the caption padded to a multiple of 32."""
    visual = math.prod(grid)
    return padded(visual) - visual + padded(text_len)


def transformer_inputs(
    transformer,
    grid: tuple[int, int] = (4, 4),
    batch: int = 1,
    text_len: int = 8,
    valid_text_lens=None,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Random forward kwargs for any ZImageTransformer2DModel over a (height, width) token grid, as
    ZImagePipeline passes them: ``x`` a list of ``batch`` latents (in_channels, 1, H * 2, W * 2),
    ``t`` the timestep (1000 - t) / 1000, ``cap_feats`` a list of captions (tokens, cap_feat_dim).
    The pipeline passes each prompt's own tokens (no padding): ``valid_text_lens[b]`` is row b's
    caption length (default ``text_len`` each)."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    height, width = check_grid_and_batch(grid, batch, ("height", "width"))
    lens = [text_len] * batch if valid_text_lens is None else [int(n) for n in valid_text_lens]
    if len(lens) != batch or not all(1 <= n <= text_len for n in lens):
        raise ValueError(f"valid_text_lens: {valid_text_lens!r} is not valid; allowed: {batch} ints in [1, {text_len}]")
    config = transformer.config
    patch, f_patch = int(config.all_patch_size[0]), int(config.all_f_patch_size[0])
    generator = torch.Generator().manual_seed(seed)
    return {
        "x": [randn((config.in_channels, f_patch, height * patch, width * patch), generator, device, dtype)
              for _ in range(batch)],
        "t": torch.full((batch,), 0.5, device=device, dtype=dtype),
        "cap_feats": [randn((n, config.cap_feat_dim), generator, device, dtype) for n in lens],
        "patch_size": patch,
        "f_patch_size": f_patch,
    }


Z_IMAGE = FamilySpec(
    name="z_image",
    geometry=FamilyGeometry(("height", "width"), 16, None, 1024, 1024, None, "Z-Image (VAE 8x, 2x2 patches)"
    ),
    config_file="z-image.json",
    # the main layers; the refiners stay stock
    attention_layers=(LayerStack("layers.{}.attention", "n_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.z_image:adapter",
    text_in_self_attention=True,
    timestep_scale=1e-3,
    attention_shape=attention_shape,
    joint_text_tokens=joint_text_tokens,
    synthetic_loop_problem="its transformer takes the latents, timestep and captions as lists by position and "
                           "returns one tensor per image, not the keyword latent tensor the synthetic loop passes",
)
