"""MiniMax-H3 (MiniMaxH3Transformer3DModel): the family spec. The adapter is ``minimax_h3.py`` (imports diffusers).

One joint self attention per block (``transformer_blocks.<i>.attn``) over ONE packed sequence the
modular pipeline lays out as ``[text | conditions (keyframes, references, their soundtracks) |
target audio | target video]`` (``MiniMaxH3PrepareLayoutStep.build_packed_sequence``,
``MiniMaxH3Ref2VAPrepareLayoutStep.build_ref2va_packed_sequence``): the generated video, a
row-major (frames, height, width) grid of 1x2x2 latent patches, is always the tail; everything
before it joins as extra keys, like text. The text refiner's attention
(``token_refiner.refiner_blocks.<i>.attn``) runs over the text alone and stays stock.

Geometry: the video VAE compresses 16x in space and turns ``17 n + 5`` frames into ``5 n + 2``
latent frames (chunks of 17 frames -> 5 latents; 4x inside a chunk). ``FamilyGeometry`` models
time as ``(frames - 1) // c + 1``, which no integer c reproduces: c = 4 with 145 default frames
gives the pipeline default's 37 latent frames (124 frames = 17 * 7 + 5), so estimates at the
default size are right; at other frame counts they are approximate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .family_types import FamilyGeometry, FamilySpec, LayerStack, is_int
from .inputs import check_grid_and_batch, patch_sizes, randn

if TYPE_CHECKING:
    import torch

# The pipeline's modality tags (diffusers.modular_pipelines.minimax_h3.modular_pipeline) and stereo.
VIDEO_TAG, TEXT_TAG, AUDIO_TAG = 0, 1, 2
AUDIO_CHANNELS = 2


def transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype | None = None,
    audio_latents: int = 0,
    keyframes: tuple[str, ...] = (),
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any MiniMaxH3Transformer3DModel, over a (T, H, W) token grid.

    The packed layout is the pipeline's own (``MiniMaxH3PrepareLayoutStep.build_packed_sequence``):
    ``[text | keyframe conditions | audio | video]`` with its rotary positions, modality tags and
    row indices, and the per-row timesteps of its ``MiniMaxH3SetTimestepsStep.build_row_timesteps``.
    ``audio_latents`` per stereo channel (the pipeline: 40 per second; 0 by default, so that
    ``text_len`` counts every token outside the grid), ``keyframes`` one ``"first"`` / ``"last"`` per
    conditioning frame (fl2va). The batch axis replicates one layout, as in the pipeline.
    """
    import torch
    from diffusers.modular_pipelines.minimax_h3.before_denoise import (MiniMaxH3PrepareLayoutStep,
                                                                       MiniMaxH3SetTimestepsStep)

    dtype = torch.float32 if dtype is None else dtype
    frames, height, width = check_grid_and_batch(grid, batch)
    if not is_int(audio_latents) or audio_latents < 0:
        raise ValueError(f"audio_latents: {audio_latents!r} is not valid; allowed: an int >= 0")
    if not is_int(text_len) or text_len < 1:
        raise ValueError(f"text_len: {text_len!r} is not valid; allowed: an int >= 1")
    config = transformer.config
    p_t, p_h, p_w = patch_sizes(config.patch_size)
    if p_t != 1:
        raise ValueError(f"patch_size {tuple(config.patch_size)}: the pipeline's layout packs one latent frame per "
                         "token frame (temporal patch 1)")
    position_ids, token_tags, video_indices, audio_indices, text_indices, conditions, _ = (
        MiniMaxH3PrepareLayoutStep.build_packed_sequence(
            torch.full((text_len,), TEXT_TAG, dtype=torch.long), frames, height * p_h, width * p_w, audio_latents,
            (p_t, p_h, p_w), AUDIO_CHANNELS, AUDIO_TAG, VIDEO_TAG, tuple(keyframes),
        )
    )
    timestep, timestep_indices = MiniMaxH3SetTimestepsStep.build_row_timesteps(
        video_indices, audio_indices, conditions, 0, text_len, 0.5, 0.7, 0.999, 1.0)
    generator = torch.Generator().manual_seed(seed)
    video_rows = video_indices.numel()
    inputs = {
        "hidden_states": randn((batch, video_rows, config.in_channels * p_t * p_h * p_w), generator, device, dtype),
        "audio_hidden_states": randn((batch, audio_indices.numel(), config.audio_in_channels), generator, device,
                                     dtype),
        "encoder_hidden_states": randn((batch, text_len, config.text_dim), generator, device, dtype),
        "timestep": timestep.to(device=device, dtype=dtype),
        "timestep_indices": timestep_indices.to(device),
        "token_tags": token_tags.to(device),
        "position_ids": position_ids.to(device),
        "video_indices": video_indices.to(device),
        "audio_indices": audio_indices.to(device),
        "text_indices": text_indices.to(device),
    }
    return inputs


MINIMAX_H3 = FamilySpec(
    name="minimax_h3",
    geometry=FamilyGeometry(("frames", "height", "width"), 32, 4, 768, 1344, 145,
        "MiniMax-H3 t2va on its 16:9 canvas (VAE 16x spatial, 17n+5 frames -> 5n+2 latent frames; patch 1x2x2); "
        "145 frames model the pipeline default 124 (37 latent frames)",
    ),
    config_file="minimax-h3.json",
    # not token_refiner.*.attn (text alone, same class)
    attention_layers=(LayerStack("transformer_blocks.{}.attn", "num_layers"),),
    transformer_inputs=transformer_inputs,
    adapter_path="na_accel.families.minimax_h3:adapter",
    text_in_self_attention=True,
    schedule_extra_points=1,
)
