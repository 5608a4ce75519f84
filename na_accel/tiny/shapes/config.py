"""The training configuration of tiny-flux-shapes (``train.py``): sizes, steps, rates, architecture."""

from __future__ import annotations

from dataclasses import dataclass, field

PICTURE_SIZE = 128  # pixels per side: 64x64 latents, a 32x32 token grid


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 0
    picture_size: int = PICTURE_SIZE  # a multiple of 4 (tests train smaller)
    pictures: int = 6000  # scenes drawn once (at both sizes); the VAE and the transformer train on them
    # The first stage trains on small pictures (16x16 tokens: 5x faster per step) what the caption means,
    # their tokens' position ids spread over the full size's (0, 2, ..., 30): FLUX's RoPE ids are absolute
    # (relative to the text's id 0), so "top left" keeps its ids; the second stage, at the full size's
    # 32x32 grid, learns the neighbours one id apart.
    warm_size: int = 64  # 0: no first stage
    warm_steps: int = 2000
    vae_steps: int = 600  # on the small pictures (the VAE is convolutional: any size)
    vae_batch: int = 8
    vae_lr: float = 2e-3
    transformer_steps: int = 500  # at picture_size, after the warm stage
    transformer_batch: int = 8
    transformer_lr: float = 8e-4
    warmup_steps: int = 50
    caption_dropout: float = 0.1
    # The shape covers ~10% of the tokens, yet it is all the caption says: its tokens' loss counts
    # (1 + foreground_weight) times, so the text is learned in minutes rather than hours.
    foreground_weight: float = 4.0
    timestep_mean: float = 0.5  # t = sigmoid(N(mean, 1)): more noisy steps, where layout and colour are decided
    log_every: int = 25
    threads: int | None = None  # torch.set_num_threads; None: torch's default (all cores)
    architecture: dict = field(default_factory=lambda: {
        "attention_heads": 4, "head_dim": 32, "double_blocks": 2, "single_blocks": 2,
        "text_dim": 32, "pooled_dim": 32, "vae_channels": [16, 32], "latent_channels": 4,
    })
