"""Tiny random-weight HunyuanVideo (HunyuanVideoTransformer3DModel), built from config offline.

Token layout: [video, text]; the video tokens are a row-major (frames, height, width) grid of
1x2x2 latent patches, the text tokens are right-padded and masked by ``encoder_attention_mask``.
"""

from __future__ import annotations

import torch

from ._defaults import tiny_pipeline_class, with_call_defaults
from ._grid import check_grid, generation_kwargs, randn
from ._imports import pipeline_classes

TINY_HUNYUAN_TEXT_DIM = 32  # Llama hidden size
TINY_HUNYUAN_POOLED_DIM = 24  # CLIP hidden size


def tiny_hunyuan_video_transformer(seed: int = 0):
    from diffusers import HunyuanVideoTransformer3DModel

    torch.manual_seed(seed)
    return HunyuanVideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        num_single_layers=2,
        num_refiner_layers=1,
        patch_size=2,
        patch_size_t=1,
        text_embed_dim=TINY_HUNYUAN_TEXT_DIM,
        pooled_projection_dim=TINY_HUNYUAN_POOLED_DIM,
        rope_axes_dim=(4, 6, 6),
        guidance_embeds=True,
    ).eval()


def hunyuan_video_transformer_inputs(
    transformer,
    grid: tuple[int, int, int] = (3, 3, 4),
    batch: int = 1,
    text_len: int = 8,
    valid_text_lens=None,
    seed: int = 0,
    device="cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Random forward kwargs for any HunyuanVideoTransformer3DModel, over a (T, H, W) token grid.

    ``hidden_states`` is (batch, in_channels, T * patch_size_t, H * patch_size, W * patch_size).
    ``encoder_attention_mask`` is (batch, text_len) in ``dtype`` with 1 for the first
    ``valid_text_lens[b]`` tokens of row b and 0 for the padding after them, as the pipeline passes
    it (default: every token valid). ``guidance`` is there when the config has guidance_embeds.
    """
    frames, height, width = check_grid(grid, batch)
    config = transformer.config
    if valid_text_lens is None:
        valid_text_lens = [text_len] * batch
    valid_text_lens = [int(n) for n in valid_text_lens]
    if len(valid_text_lens) != batch or not all(0 <= n <= text_len for n in valid_text_lens):
        raise ValueError(
            f"valid_text_lens: {valid_text_lens!r} is not valid; allowed: {batch} ints in [0, {text_len}]"
        )
    generator = torch.Generator().manual_seed(seed)
    p, p_t = int(config.patch_size), int(config.patch_size_t)
    mask = (torch.arange(text_len)[None, :] < torch.tensor(valid_text_lens)[:, None]).to(device=device, dtype=dtype)
    inputs = {
        "hidden_states": randn(
            (batch, config.in_channels, frames * p_t, height * p, width * p), generator, device, dtype
        ),
        "timestep": torch.full((batch,), 500.0, device=device, dtype=dtype),
        "encoder_hidden_states": randn((batch, text_len, config.text_embed_dim), generator, device, dtype),
        "encoder_attention_mask": mask,
        "pooled_projections": randn((batch, config.pooled_projection_dim), generator, device, dtype),
    }
    if config.guidance_embeds:
        # the pipeline passes guidance_scale * 1000
        inputs["guidance"] = torch.full((batch,), 6000.0, device=device, dtype=dtype)
    return inputs


def tiny_hunyuan_video_prompt_template(tokenizer) -> dict:
    """A short Llama 3 style template for the tiny tokenizer, with its crop_start in tokens.

    The pipeline's default template has a long system prompt and crop_start 95 counted in the real
    Llama 3 tokenizer's tokens; with the one-character-per-token tiny tokenizer it would crop the
    wrong tokens and truncation would drop the prompt.
    """
    prefix = "<|start_header_id|>user<|end_header_id|>"
    crop_start = len(tokenizer(prefix, add_special_tokens=True)["input_ids"])
    return {"template": prefix + "{}<|eot_id|>", "crop_start": crop_start}


def tiny_hunyuan_video_pipeline(seed: int = 0):
    """A HunyuanVideoPipeline: tiny transformer, Llama and CLIP text encoders and a 3D VAE.

    VAE: 8x spatial, 4x temporal compression (as the real one), 4 latent channels. The Llama and
    CLIP tokenizers have one token per character. Called plainly (``pipe("a red fox")``), arguments
    left out take ``tiny_hunyuan_video_call()``'s values, its short ``prompt_template`` included.
    """
    AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline = pipeline_classes(
        "AutoencoderKLHunyuanVideo", "FlowMatchEulerDiscreteScheduler", "HunyuanVideoPipeline"
    )

    from ._text import tiny_clip_text_encoder, tiny_clip_tokenizer, tiny_llama_text_encoder, tiny_llama_tokenizer

    transformer = tiny_hunyuan_video_transformer(seed)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    ).eval()
    tokenizer = tiny_llama_tokenizer()
    tokenizer_2 = tiny_clip_tokenizer()
    pipe = tiny_pipeline_class(HunyuanVideoPipeline)(
        text_encoder=tiny_llama_text_encoder(len(tokenizer), hidden_size=TINY_HUNYUAN_TEXT_DIM, seed=seed + 2),
        tokenizer=tokenizer,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=tiny_clip_text_encoder(tokenizer_2, hidden_size=TINY_HUNYUAN_POOLED_DIM, seed=seed + 3),
        tokenizer_2=tokenizer_2,
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_hunyuan_video_call())


# hunyuan_video_gna runs its first 12 steps dense: the default run has 2 steps past them.
TINY_HUNYUAN_VIDEO_STEPS = 14


def tiny_hunyuan_video_call(
    height: int = 48,
    width: int = 128,
    num_frames: int = 9,
    steps: int = TINY_HUNYUAN_VIDEO_STEPS,
    seed: int = 0,
    prompt="a red fox in the snow",
    max_sequence_length: int = 32,
    **extra,
) -> dict:
    """Call kwargs for a small HunyuanVideoPipeline generation (``pipe(**kwargs).frames``).

    Defaults: 9 frames of 48x128 pixels -> 3 latent frames of 6x16 -> token grid (T, H, W) = (3, 3, 8),
    plus ``max_sequence_length`` (32) text tokens of which only the prompt's are valid (one token per
    character, plus the end-of-turn token); 14 steps. There hunyuan_video_gna (scaled from its
    30x48x80 grid, snapped to the backend's tiles) runs sparse after its 12 dense steps.
    Guidance-distilled: one transformer call per step (``true_cfg_scale`` stays 1).
    ``extra`` overrides or adds kwargs.
    """
    from ._text import tiny_llama_tokenizer

    return generation_kwargs(
        height=height, width=width, steps=steps, seed=seed, output_type="pt", prompt=prompt,
        num_frames=num_frames, guidance_scale=6.0,
        prompt_template=tiny_hunyuan_video_prompt_template(tiny_llama_tokenizer()),
        max_sequence_length=max_sequence_length, overrides=extra,
    )
