"""Tiny random-weight MiniMax-H3 (MiniMaxH3Transformer3DModel), and a tiny modular pipeline around it, offline.

MiniMax-H3 is modular only (``MiniMaxH3Blocks`` / ``MiniMaxH3ModularPipeline``; no classic pipeline
in diffusers 0.42). Token layout: one joint self attention over the packed ``[text | audio |
video]`` sequence of a text-to-video+audio (t2va) request, the video a row-major (frames, height,
width) grid of 1x2x2 latent patches at its tail (``na_accel/families/minimax_h3.py``).

The tiny pipeline is ``MiniMaxH3Blocks`` less its ``decode`` step (diffusers' own way to keep the
latents: "run a pipeline that does not include the decode blocks"), holding the t2va workflow's
components as ``ModularPipeline.from_pretrained(..., workflow="t2va")`` loads them (``transformer``;
``transformer_ref`` is the ref2va partition): a tiny Qwen3-VL conditioner (51 decoder layers: the
pipeline reads ``hidden_states[50]``), its tokenizer (one token per character) and processor, the
two ``MiniMaxH3Scheduler`` (video shift 12, audio shift 3) and a tiny video VAE whose config sets the
pipeline's geometry (16x spatial; one 120-frame chunk per latent frame, so the pipeline's 5 s
minimum, 121 frames, is 3 latent frames instead of the full VAE's 37). The VAE never runs: a t2va
call without ``decode`` encodes nothing and decodes nothing. A call returns the blocks'
``PipelineState``; its ``latents`` are the generated video latents (1, 4, frames, height, width).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._call import TinyCall
from ._defaults import tiny_modular_pipeline

TINY_MINIMAX_H3_TEXT_DIM = 32  # the tiny Qwen3-VL's hidden size
TINY_MINIMAX_H3_LATENT_CHANNELS = 4
MINIMAX_H3_AUDIO_LATENT_CHANNELS = 32  # the pipeline's default without an audio VAE (the released one's)
# The pipeline reads the conditioner's hidden_states[50] and refuses a stack of 50 layers or fewer.
MINIMAX_H3_TEXT_ENCODER_LAYERS = 51
_VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")


def tiny_minimax_h3_transformer(seed: int = 0, in_channels: int = TINY_MINIMAX_H3_LATENT_CHANNELS):
    """``in_channels`` = the VAE's latent channels; ``rope_freq_dim`` 2: 2 * 3 * 2 = 12 of the 16
    head channels rotate (t, h, w)."""
    from diffusers import MiniMaxH3Transformer3DModel

    torch.manual_seed(seed)
    return MiniMaxH3Transformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        hidden_size=32,
        num_layers=2,
        num_refiner_layers=1,
        ffn_dim=64,
        in_channels=in_channels,
        audio_in_channels=MINIMAX_H3_AUDIO_LATENT_CHANNELS,
        patch_size=(1, 2, 2),
        text_dim=TINY_MINIMAX_H3_TEXT_DIM,
        freq_dim=32,
        time_embed_hidden_dim=32,
        time_embed_dim=32,
        rope_freq_dim=2,
    ).eval()


def tiny_minimax_h3_tokenizer():
    """Qwen's tokenizer, one token per character, with Qwen-VL's vision markers."""
    from ._qwen_text import tiny_qwen2_tokenizer

    tokenizer = tiny_qwen2_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": list(_VISION_TOKENS)})
    return tokenizer


def _qwen3_vl_processor_class():
    from transformers import Qwen3VLProcessor

    class TinyQwen3VLProcessor(Qwen3VLProcessor):
        """Qwen3VLProcessor without a video processor: transformers' Qwen3VLVideoProcessor needs
        torchvision, and a t2va request never processes a video (the text encoder step reads only
        ``create_mm_token_type_ids``)."""

        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    TinyQwen3VLProcessor.__name__ = TinyQwen3VLProcessor.__qualname__ = "Qwen3VLProcessor"
    return TinyQwen3VLProcessor


def tiny_minimax_h3_processor(tokenizer):
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()  # the Pillow fallback notice of Qwen2VLImageProcessor without torchvision
    try:
        from transformers import Qwen2VLImageProcessorPil

        return _qwen3_vl_processor_class()(image_processor=Qwen2VLImageProcessorPil(), tokenizer=tokenizer,
                                           video_processor=None)
    finally:
        logging.set_verbosity(level)


def tiny_qwen3_vl_text_encoder(tokenizer, hidden_size: int = TINY_MINIMAX_H3_TEXT_DIM, seed: int = 0):
    """A Qwen3VLForConditionalGeneration with 51 tiny decoder layers and a one-block vision tower."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    heads = 2
    head_dim = hidden_size // heads
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in zip(
        ("vision_start_token_id", "vision_end_token_id", "image_token_id", "video_token_id"), _VISION_TOKENS)}
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": hidden_size, "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": MINIMAX_H3_TEXT_ENCODER_LAYERS, "num_attention_heads": heads,
            "num_key_value_heads": heads, "head_dim": head_dim, "max_position_embeddings": 512,
            # interleaved multimodal RoPE over (t, h, w): sections sum to head_dim / 2
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2]},
        },
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2,
                       "out_hidden_size": hidden_size, "deepstack_visual_indexes": []},
        **ids,
    )
    torch.manual_seed(seed)
    return Qwen3VLForConditionalGeneration(config).eval()


# One latent frame per 120-frame VAE chunk (7 temporal halvings: 128 >= 120, so each chunk keeps
# ceil(120 / 128) = 1 latent): 121 frames (the pipeline's 5 s minimum at 24 fps) -> 3 latent frames.
TINY_MINIMAX_H3_CLIP_FRAMES = 120


def tiny_minimax_h3_vae(seed: int = 0):
    """An AutoencoderKLMiniMaxH3 with the released 16x spatial compression, 4 latent channels and
    a 120-frame clip (its config is the pipeline's geometry; the tiny pipeline never runs it)."""
    from diffusers import AutoencoderKLMiniMaxH3

    levels = 7
    torch.manual_seed(seed)
    return AutoencoderKLMiniMaxH3(
        latent_channels=TINY_MINIMAX_H3_LATENT_CHANNELS,
        block_out_channels=[8] * levels,
        layers_per_block=1,
        spatial_downsample_factors=[2, 2, 2, 2, 1, 1, 1],
        temporal_downsample_factors=[2] * levels,
        norm_num_groups=4,
        decoder_num_layers=1,
        decoder_num_attention_heads=2,
        decoder_attention_head_dim=8,
        clip_length=TINY_MINIMAX_H3_CLIP_FRAMES,
        token_drop=0,
        latents_mean=(0.0,) * TINY_MINIMAX_H3_LATENT_CHANNELS,
        latents_std=(1.0,) * TINY_MINIMAX_H3_LATENT_CHANNELS,
    ).eval()


def tiny_minimax_h3_pipeline(seed: int = 0):
    """A MiniMaxH3ModularPipeline of MiniMaxH3Blocks less ``decode`` (t2va: text to video latents and
    audio latents), with the t2va workflow's tiny components; called like any modular pipeline
    (``pipe(prompt="a red fox")``, left-out arguments take ``tiny_minimax_h3_call``'s defaults)."""
    from diffusers import MiniMaxH3Scheduler
    from diffusers.modular_pipelines import MiniMaxH3Blocks

    blocks = MiniMaxH3Blocks()
    blocks.sub_blocks.pop("decode")
    tokenizer = tiny_minimax_h3_tokenizer()
    components = {
        "transformer": tiny_minimax_h3_transformer(seed),
        "text_encoder": tiny_qwen3_vl_text_encoder(tokenizer, seed=seed + 2),
        "tokenizer": tokenizer,
        "processor": tiny_minimax_h3_processor(tokenizer),
        "vae": tiny_minimax_h3_vae(seed + 1),
        "scheduler": MiniMaxH3Scheduler(shift=12.0),  # the pipeline's video schedule
        "audio_scheduler": MiniMaxH3Scheduler(shift=3.0),  # and its audio schedule
    }
    return tiny_modular_pipeline(blocks, components, tiny_minimax_h3_call())


@dataclass(frozen=True)
class MiniMaxH3TinyCall(TinyCall):
    """A TinyCall whose ``steps`` are transformer calls: MiniMaxH3Scheduler's ``num_inference_steps``
    counts the schedule's points, terminal sigma included (which has no transformer call), and must
    be >= 2; ``steps`` + 1 points make ``steps`` calls, as ``scheduler.step_index`` (and so a recipe's
    ``dense_steps``) counts them. An explicit ``num_inference_steps`` is passed as given."""

    def __call__(self, *, steps: int | None = None, **overrides) -> dict:
        calls = self.steps if steps is None else steps
        return super().__call__(steps=calls + 1, **overrides)


# minimax_h3_gna's window is 14x24x24 tokens (as written at every grid) and its first 15 steps run
# dense: the default grid is 32 tokens wide (the window is narrower) and has 2 steps past the dense ones.
TINY_MINIMAX_H3_STEPS = 17

# 121 frames of 128x1024 pixels -> 3 latent frames of 8x64 -> token grid (T, H, W) = (3, 4, 32), after
# the prompt's text tokens (one per character) and 2 x 202 audio rows (40 per second, stereo). No
# guidance: the checkpoint is guidance-distilled, one transformer call per step. No text length
# argument: the prompt is encoded as it is, unpadded.
tiny_minimax_h3_call = MiniMaxH3TinyCall(height=128, width=1024, num_frames=121, steps=TINY_MINIMAX_H3_STEPS,
                                         output_type="latent", text_tokens_kwarg=None)
