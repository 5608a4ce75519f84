"""LTX-2 (LTX2VideoTransformer3DModel): the family spec. The adapter is ``ltx2.py`` (imports diffusers).

Video self attention (``transformer_blocks.<i>.attn1``) over the video tokens, a row-major (frames,
height, width) grid of 1x1x1 latent patches (VAE 32x spatial, 8x temporal), plus any conditioning
tokens a pipeline appends after the grid (keyframes, references: extra keys). The audio stream's
self attention, the cross attention to text and the audio<->video cross attention are separate
modules and stay stock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .family_types import FamilyGeometry, FamilySpec, LayerStack
from .inputs import check_grid_and_batch, randn

if TYPE_CHECKING:
    import torch


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
    audio_len: int = 6,
    keyframe_tokens: int = 0,
    valid_text_lens: list[int] | None = None,
) -> dict[str, Any]:
    """Random forward kwargs for any LTX2VideoTransformer3DModel, over a (T, H, W) token grid, as
    LTX2Pipeline passes them: packed video ``hidden_states`` (batch, T * H * W, in_channels) with the
    latent size as ``num_frames``, ``height``, ``width`` (grid x patch size), ``audio_len`` audio
    tokens, text for each modality with a (batch, text) mask (the first ``valid_text_lens[i]`` of
    row i real, all by default), ``timestep`` and ``sigma`` (LTX-2.3's prompt modulation reads it).

    ``keyframe_tokens`` > 0 appends that many conditioning tokens after the grid, as
    LTX2ConditionPipeline does with keyframes, with their RoPE coordinates in ``video_coords``
    (the grid's first tokens' coordinates, shifted one frame later: any coordinates do).
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    if not isinstance(keyframe_tokens, int) or keyframe_tokens < 0:
        raise ValueError(f"keyframe_tokens: {keyframe_tokens!r} is not valid; allowed: an int >= 0")
    config = transformer.config
    p_t, p = int(config.patch_size_t), int(config.patch_size)
    generator = torch.Generator().manual_seed(seed)
    lens = [text_len] * batch if valid_text_lens is None else list(valid_text_lens)
    if len(lens) != batch or not all(isinstance(n, int) and 0 <= n <= text_len for n in lens):
        raise ValueError(f"valid_text_lens: {valid_text_lens!r} is not valid; allowed: {batch} ints in [0, {text_len}]")
    mask = (torch.arange(text_len)[None, :] < torch.tensor(lens)[:, None]).to(device=device, dtype=dtype)
    if config.use_prompt_embeddings:  # LTX-2.0 projects the captions; LTX-2.3's connectors already did
        video_text_dim = audio_text_dim = config.caption_channels
    else:
        video_text_dim = config.num_attention_heads * config.attention_head_dim
        audio_text_dim = config.audio_num_attention_heads * config.audio_attention_head_dim
    tokens = frames * height * width + keyframe_tokens
    timestep = torch.full((batch,), 500.0, device=device, dtype=dtype)
    inputs = {
        "hidden_states": randn((batch, tokens, config.in_channels), generator, device, dtype),
        "audio_hidden_states": randn((batch, audio_len, config.audio_in_channels), generator, device, dtype),
        "encoder_hidden_states": randn((batch, text_len, video_text_dim), generator, device, dtype),
        "audio_encoder_hidden_states": randn((batch, text_len, audio_text_dim), generator, device, dtype),
        "timestep": timestep,
        "sigma": timestep / 1000.0,
        "encoder_attention_mask": mask,
        "audio_encoder_attention_mask": mask,
        "num_frames": frames * p_t,
        "height": height * p,
        "width": width * p,
        "fps": 24.0,
        "audio_num_frames": audio_len,
    }
    if keyframe_tokens:
        coords = transformer.rope.prepare_video_coords(batch, frames * p_t, height * p, width * p, device, fps=24.0)
        extra = coords[:, :, :keyframe_tokens].clone()
        extra[:, 0] += 1.0
        inputs["video_coords"] = torch.cat([coords, extra], dim=2)
    return inputs


LTX2 = FamilySpec(
    name="ltx2",
    geometry=FamilyGeometry(("frames", "height", "width"), 32, 8, 512, 768, 121,
        "LTX-2.3 (VAE 32x spatial, 8x temporal; patch 1x1x1)",
    ),
    config_file="ltx2.3.json",
    # video self attention only
    attention_layers=(LayerStack("transformer_blocks.{}.attn1", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.ltx2:adapter",
    text_in_self_attention=False,
)
