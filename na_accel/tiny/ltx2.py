"""Tiny random-weight LTX-2 (LTX2VideoTransformer3DModel: audio + video), built from config offline.

Token layout: video self attention (attn1) over the video tokens, a row-major (frames, height,
width) grid of 1x1x1 latent patches (the VAE compresses 32x spatially, 8x in time, as the real
one); the audio stream's self attention, the cross attention to text and the audio<->video cross
attention are separate modules (stock). The transformer is LTX-2.3-like where the prompt path
allows: perturbed-attention processors (spatio-temporal guidance) and gated attention; its prompt
path is LTX-2.0's (caption projection in the transformer, tiny Gemma 3 text model and connectors).
"""

from __future__ import annotations

import torch

from ._call import TinyCall
from ._defaults import tiny_pipeline_class, with_call_defaults
from ._imports import pipeline_classes
from ._requirements import require_preset

TINY_LTX2_TEXT_DIM = 32  # Gemma 3 hidden size (= the connectors' and the caption projection's width)
TINY_LTX2_TEXT_LAYERS = 2
TINY_LTX2_LATENT_CHANNELS = 8


def tiny_ltx2_transformer(seed: int = 0, in_channels: int = TINY_LTX2_LATENT_CHANNELS):
    """``in_channels`` = the video VAE's latent channels. Audio: 4 channels (the tiny audio VAE's 2 latent
    channels x 2 latent mel bins, as LTX2Pipeline packs them), 2 heads x head_dim 16 like the video.

    Audio and video have the same width here, so ``fuse_qkv_projections()`` works (diffusers fuses
    every LTX2Attention, the audio<->video cross attention as if it were self attention; the LTX-2
    processors never read fused projections). On the full-size models (video 4096 wide, audio 2048)
    it raises in diffusers 0.42.1: the audio<->video modules have no ``is_cross_attention``.
    """
    from diffusers import LTX2VideoTransformer3DModel

    torch.manual_seed(seed)
    return LTX2VideoTransformer3DModel(
        in_channels=in_channels,
        out_channels=in_channels,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=16,
        cross_attention_dim=32,  # = heads x head_dim
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=16,
        audio_cross_attention_dim=32,  # = audio heads x head_dim
        num_layers=2,
        caption_channels=TINY_LTX2_TEXT_DIM,
        rope_double_precision=False,
        rope_type="split",
        gated_attn=True,
        audio_gated_attn=True,
        perturbed_attn=True,
    ).eval()


def tiny_ltx2_text_encoder(vocab_size: int, seed: int = 0):
    """A Gemma3TextModel (LTX2Pipeline stacks every layer's hidden states: layers + 1 of them)."""
    from transformers import Gemma3TextConfig, Gemma3TextModel

    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=TINY_LTX2_TEXT_DIM,
        intermediate_size=2 * TINY_LTX2_TEXT_DIM,
        num_hidden_layers=TINY_LTX2_TEXT_LAYERS,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=512,
        sliding_window=64,
    )
    return Gemma3TextModel(config).eval()


def tiny_ltx2_connectors(seed: int = 0):
    """LTX2TextConnectors: the stacked text hidden states -> video and audio prompt embeddings."""
    from diffusers.pipelines.ltx2 import LTX2TextConnectors

    torch.manual_seed(seed)
    return LTX2TextConnectors(
        caption_channels=TINY_LTX2_TEXT_DIM,
        text_proj_in_factor=TINY_LTX2_TEXT_LAYERS + 1,
        video_connector_num_attention_heads=2,
        video_connector_attention_head_dim=16,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=2,
        audio_connector_attention_head_dim=16,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    ).eval()


def tiny_ltx2_vae(seed: int = 0):
    """A small AutoencoderKLLTX2Video with the real geometry: patch 4, three 2x spatio-temporal stages
    (32x spatial, 8x temporal compression), 8 latent channels."""
    from diffusers import AutoencoderKLLTX2Video

    torch.manual_seed(seed)
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=TINY_LTX2_LATENT_CHANNELS,
        block_out_channels=(8, 8, 8),
        decoder_block_out_channels=(8, 8, 8),
        layers_per_block=(1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True),
        decoder_spatio_temporal_scaling=(True, True, True),
        decoder_inject_noise=(False, False, False, False),
        downsample_type=("spatiotemporal", "spatiotemporal", "spatiotemporal"),
        upsample_residual=(False, False, False),
        upsample_factor=(1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    ).eval()
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return vae


def tiny_ltx2_audio_vae(seed: int = 0):
    """A small AutoencoderKLLTX2Audio: 2 latent channels, 8 mel bins (2 latent bins), 16 kHz."""
    from diffusers import AutoencoderKLLTX2Audio

    torch.manual_seed(seed)
    return AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=8,
    ).eval()


def tiny_ltx2_vocoder(seed: int = 0):
    """A small LTX2Vocoder: the audio VAE's 2 x 8 mel channels -> stereo 16 kHz."""
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    torch.manual_seed(seed)
    return LTX2Vocoder(
        in_channels=2 * 8,
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[4, 4],
        upsample_factors=[2, 2],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    ).eval()


def tiny_ltx2_pipeline(seed: int = 0):
    """An LTX2Pipeline: tiny transformer, Gemma 3 text model (character tokenizer), connectors, video
    VAE (32x spatial, 8x temporal), audio VAE and vocoder."""
    require_preset("tiny-ltx2")
    FlowMatchEulerDiscreteScheduler, LTX2Pipeline = pipeline_classes("FlowMatchEulerDiscreteScheduler", "LTX2Pipeline")

    from ._text import tiny_llama_tokenizer

    tokenizer = tiny_llama_tokenizer()  # LTX2Pipeline pads on the left itself (Gemma's chat-style padding)
    pipe = tiny_pipeline_class(LTX2Pipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=tiny_ltx2_vae(seed + 1),
        audio_vae=tiny_ltx2_audio_vae(seed + 3),
        text_encoder=tiny_ltx2_text_encoder(len(tokenizer), seed=seed + 2),
        tokenizer=tokenizer,
        connectors=tiny_ltx2_connectors(seed + 4),
        transformer=tiny_ltx2_transformer(seed),
        vocoder=tiny_ltx2_vocoder(seed + 5),
    )
    pipe.set_progress_bar_config(disable=True)
    return with_call_defaults(pipe, tiny_ltx2_call())


# ltx2_gna's window is 12x12x16 tokens, as written at every grid, and its first 9 steps run dense:
# the default run is 18 tokens wide (the window is narrower) and has 2 steps past the dense ones.
TINY_LTX2_STEPS = 11

# 9 frames of 64x576 pixels -> 2 latent frames of 2x18 -> token grid (T, H, W) = (2, 2, 18), 32 text
# tokens, 11 steps: the shipped ltx2_gna runs sparse in the last 2. Classifier-free guidance (scale 3,
# batch 2) and LTX2Pipeline's modality-isolation guidance (scale 3: a third pass with the audio<->video
# cross attention off) are on: the transformer runs twice per step. Spatio-temporal guidance is off
# (stg_scale 0): its default block (28) is past the tiny model's 2. The output is a (B, F, H, W, 3)
# array, and stereo audio.
tiny_ltx2_call = TinyCall(
    height=64, width=576, num_frames=9, steps=TINY_LTX2_STEPS, output_type="np",
    pipeline_kwargs={"guidance_scale": 3.0, "stg_scale": 0.0, "audio_stg_scale": 0.0, "frame_rate": 24.0},
)
