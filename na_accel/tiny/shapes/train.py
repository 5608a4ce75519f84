"""Train ``tiny-flux-shapes`` from a seed: a tiny FLUX.1 pipeline that draws the shapes world.

    python -m na_accel.tiny.shapes.train --output-dir na_accel/tiny/shapes/model --seed 0

Real diffusers / transformers classes at toy width, all trained here on pictures the script draws
itself (``scenes.py``), on a CPU:

1. the VAE (AutoencoderKL, 2 blocks: scale factor 2, 4 latent channels) learns to reconstruct them;
   its latents' mean and spread become the config's ``shift_factor`` / ``scaling_factor``, as FLUX's;
2. the transformer (FluxTransformer2DModel) and both text encoders (CLIP, T5; a word-level tokenizer)
   learn rectified flow on the VAE's latents of captioned pictures, the caption dropped 10% of the
   time so that true CFG (``true_cfg_scale`` with a ``negative_prompt``) works.

At 128x128 pixels the token grid is 32x32 (2x2-packed 64x64 latents), where the shipped flux_gna
runs sparse. The output folder is a diffusers pipeline folder (``FluxPipeline.from_pretrained``
loads it; weights stored in float16) plus ``training.json``: the command, seed, data recipe,
versions, times and loss curves.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .scenes import BACKGROUND, COLOURS, JITTER, POSITIONS, SHAPES, SIZE_RANGE, draw, foreground, random_scene
from .tokenizer import CLIP_TOKENS, T5_TOKENS, shapes_tokenizer

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


def build_components(config: TrainingConfig) -> dict:
    """The untrained pipeline components (seeded): what training starts from."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    arch = config.architecture
    tokenizer, tokenizer_2 = shapes_tokenizer(CLIP_TOKENS), shapes_tokenizer(T5_TOKENS)
    torch.manual_seed(config.seed)
    head_dim = arch["head_dim"]
    rope = (head_dim // 4, 3 * head_dim // 8, 3 * head_dim // 8)  # FLUX's (16, 56, 56) of 128, shrunk
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * arch["latent_channels"],
        num_layers=arch["double_blocks"],
        num_single_layers=arch["single_blocks"],
        attention_head_dim=head_dim,
        num_attention_heads=arch["attention_heads"],
        joint_attention_dim=arch["text_dim"],
        pooled_projection_dim=arch["pooled_dim"],
        guidance_embeds=False,
        axes_dims_rope=rope,
    )
    channels = tuple(arch["vae_channels"])
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * len(channels),
        up_block_types=["UpDecoderBlock2D"] * len(channels),
        block_out_channels=channels,
        latent_channels=arch["latent_channels"],
        norm_num_groups=8,
        layers_per_block=1,
        mid_block_add_attention=False,
        shift_factor=0.0,
        scaling_factor=1.0,
    )
    specials = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.pad_token_id}
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=arch["pooled_dim"], intermediate_size=2 * arch["pooled_dim"],
        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=CLIP_TOKENS, **specials,
    ))
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=len(tokenizer_2), d_model=arch["text_dim"], d_kv=arch["text_dim"] // 2,
        d_ff=2 * arch["text_dim"], num_layers=2, num_heads=2, relative_attention_num_buckets=8,
        dropout_rate=0.0, decoder_start_token_id=0, **specials,
    ))
    return {
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": tokenizer_2,
        "transformer": transformer,
    }


def draw_pictures(config: TrainingConfig, sizes: tuple[int, ...]) -> tuple[dict[int, torch.Tensor], list[str]]:
    """``config.pictures`` scenes drawn at each size (size -> [N, 3, S, S] in [-1, 1]) and their
    captions, from the seed."""
    from tqdm import tqdm

    generator = torch.Generator().manual_seed(config.seed)
    pictures: dict[int, list[torch.Tensor]] = {size: [] for size in sizes}
    captions = []
    for index in tqdm(range(config.pictures), desc="drawing", unit="scene", leave=False):
        scene = random_scene(generator)
        for size in sizes:
            pictures[size].append(draw(scene, size, size))
        captions.append(scene.caption(template=index))
    return {size: torch.stack(drawn) * 2 - 1 for size, drawn in pictures.items()}, captions


def _learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_vae(vae, pictures: torch.Tensor, config: TrainingConfig, generator: torch.Generator) -> list[dict]:
    from tqdm import tqdm

    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
    curve, running = [], []
    vae.train()
    for step in (bar := tqdm(range(config.vae_steps), desc="VAE", unit="step")):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, config.vae_steps, config.vae_lr, config.warmup_steps)
        batch = pictures[torch.randint(len(pictures), (config.vae_batch,), generator=generator)]
        posterior = vae.encode(batch).latent_dist
        reconstruction = vae.decode(posterior.sample(generator)).sample
        error = (reconstruction - batch).abs().mean() + (reconstruction - batch).pow(2).mean()
        loss = error + 1e-6 * posterior.kl().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(error.item())
        if (step + 1) % config.log_every == 0 or step + 1 == config.vae_steps:
            curve.append({"step": step + 1, "reconstruction_loss": round(sum(running) / len(running), 5)})
            bar.set_postfix(loss=curve[-1]["reconstruction_loss"])
            running = []
    vae.eval()
    return curve


@torch.no_grad()
def encode_latents(vae, pictures: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """The VAE's latents (posterior means) of ``pictures``, unscaled."""
    return torch.cat([vae.encode(pictures[i:i + batch]).latent_dist.mode() for i in range(0, len(pictures), batch)])


def set_latent_scale(vae, latents: torch.Tensor) -> None:
    """The config's shift and scale from ``latents``' mean and spread, as FLUX's VAE states its own."""
    vae.register_to_config(shift_factor=round(float(latents.mean()), 5), scaling_factor=round(1 / float(latents.std()), 5))


def scaled(vae, latents: torch.Tensor) -> torch.Tensor:
    return (latents - vae.config.shift_factor) * vae.config.scaling_factor


def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, H/2 * W/2, 4C]: FLUX's 2x2 packing (FluxPipeline._pack_latents)."""
    b, c, h, w = latents.shape
    latents = latents.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return latents.reshape(b, (h // 2) * (w // 2), c * 4)


def image_ids(height: int, width: int) -> torch.Tensor:
    """FLUX's image position ids over a (height, width) token grid: (0, row, column)."""
    ids = torch.zeros(height, width, 3)
    ids[..., 1] = torch.arange(height)[:, None]
    ids[..., 2] = torch.arange(width)[None, :]
    return ids.reshape(height * width, 3)


def encode_prompts(components: dict, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(T5 hidden states, CLIP pooled output) of ``captions``, as FluxPipeline.encode_prompt computes them."""
    def ids(tokenizer, length):
        return tokenizer(captions, padding="max_length", max_length=length, truncation=True,
                         return_tensors="pt").input_ids

    pooled = components["text_encoder"](ids(components["tokenizer"], CLIP_TOKENS), output_hidden_states=False).pooler_output
    hidden = components["text_encoder_2"](ids(components["tokenizer_2"], T5_TOKENS), output_hidden_states=False)[0]
    return hidden, pooled


def token_weights(pictures: torch.Tensor, config: TrainingConfig) -> torch.Tensor:
    """[N, tokens]: each token's loss weight, 1 + foreground_weight where its 4x4 pixels show the shape."""
    masks = torch.stack([foreground((picture + 1) / 2) for picture in pictures]).float()
    covered = torch.nn.functional.max_pool2d(masks[:, None], 4)[:, 0]  # 4 pixels per token
    return 1 + config.foreground_weight * covered.flatten(1)


@dataclass
class Stage:
    """Transformer training steps on the latents of one picture size."""

    size: int
    steps: int
    latents: torch.Tensor  # [N, C, H, W], scaled
    weights: torch.Tensor  # [N, tokens] (token_weights)


def train_transformer(components: dict, stages: list[Stage], captions: list[str], config: TrainingConfig,
                      generator: torch.Generator) -> list[dict]:
    """Rectified flow (FLUX's objective): x_t = (1 - t) x_0 + t noise, predict noise - x_0; t logit-normal;
    each token's squared error weighted (``token_weights``). One learning-rate schedule over all stages."""
    from tqdm import tqdm

    modules = [components[name] for name in ("transformer", "text_encoder", "text_encoder_2")]
    parameters = [p for module in modules for p in module.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=config.transformer_lr, weight_decay=0.01)
    total = sum(stage.steps for stage in stages)
    for module in modules:
        module.train()
    curve, running, step = [], [], 0
    bar = tqdm(total=total, desc="transformer", unit="step")
    for stage in stages:
        packed, weights = pack_latents(stage.latents), stage.weights
        img_ids = image_ids(stage.latents.shape[2] // 2, stage.latents.shape[3] // 2) * (config.picture_size / stage.size)
        txt_ids = torch.zeros(T5_TOKENS, 3)
        bar.set_description(f"transformer, {stage.size}x{stage.size} pixels")
        for stage_step in range(stage.steps):
            loss = _flow_step(components, optimizer, parameters, packed, weights, img_ids, txt_ids, captions,
                              config, generator, _learning_rate(step, total, config.transformer_lr, config.warmup_steps))
            running.append(loss)
            step += 1
            bar.update()
            if step % config.log_every == 0 or stage_step + 1 == stage.steps:
                curve.append({"step": step, "picture_size": stage.size, "flow_loss": round(sum(running) / len(running), 5)})
                bar.set_postfix(loss=curve[-1]["flow_loss"])
                running = []
    bar.close()
    for module in modules:
        module.eval()
    return curve


def _flow_step(components, optimizer, parameters, packed, weights, img_ids, txt_ids, captions, config, generator,
               learning_rate: float) -> float:
    """One optimizer step on a random batch of ``packed`` latents; the batch's weighted loss."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    index = torch.randint(len(packed), (config.transformer_batch,), generator=generator)
    clean = packed[index]
    drop = torch.rand(len(index), generator=generator) < config.caption_dropout
    batch_captions = ["" if dropped else captions[i] for i, dropped in zip(index.tolist(), drop.tolist())]
    prompt_embeds, pooled = encode_prompts(components, batch_captions)
    t = torch.sigmoid(torch.randn(len(index), generator=generator) + config.timestep_mean)
    noise = torch.randn(clean.shape, generator=generator)
    noisy = (1 - t[:, None, None]) * clean + t[:, None, None] * noise
    prediction = components["transformer"](
        hidden_states=noisy, timestep=t, pooled_projections=pooled, encoder_hidden_states=prompt_embeds,
        txt_ids=txt_ids, img_ids=img_ids, return_dict=False,
    )[0]
    weight = weights[index]
    loss = ((prediction - (noise - clean)).pow(2).mean(-1) * weight).sum() / weight.sum()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()
    return float(loss)


def data_recipe(config: TrainingConfig) -> dict:
    return {
        "picture_size": config.picture_size,
        "colours": COLOURS,
        "shapes": list(SHAPES),
        "positions": POSITIONS,
        "size_range": SIZE_RANGE,
        "jitter": JITTER,
        "background": BACKGROUND,
        "captions": ["a {colour} {shape} at the {corner} / on the {side} / in the center",
                     "{colour} {shape}, {position}"],
    }


def train(output_dir: Path, config: TrainingConfig, command: str | None = None) -> dict:
    """Train every component from ``config.seed`` and write the pipeline folder to ``output_dir``."""
    import diffusers
    import transformers
    from diffusers import FluxPipeline

    if config.threads:
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    components = build_components(config)
    sizes = (config.warm_size, config.picture_size) if config.warm_size and config.warm_steps else (config.picture_size,)
    pictures, captions = draw_pictures(config, sizes)
    generator = torch.Generator().manual_seed(config.seed + 1)
    vae_started = time.perf_counter()
    vae = components["vae"]
    vae_curve = train_vae(vae, pictures[sizes[0]], config, generator)
    latents = {size: encode_latents(vae, pictures[size]) for size in sizes}
    set_latent_scale(vae, latents[config.picture_size])
    steps = {config.picture_size: config.transformer_steps, config.warm_size: config.warm_steps}
    stages = [Stage(size, steps[size], scaled(vae, latents[size]), token_weights(pictures[size], config))
              for size in sizes]
    del pictures, latents
    transformer_started = time.perf_counter()
    flow_curve = train_transformer(components, stages, captions, config, generator)
    finished = time.perf_counter()

    from diffusers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()  # the float16 cast's notice: nothing here must stay float32
    try:
        FluxPipeline(**components).to(torch.float16).save_pretrained(output_dir, safe_serialization=True)
    finally:
        logging.set_verbosity(level)
    record = {
        "command": command or f"python -m na_accel.tiny.shapes.train --output-dir {output_dir} --seed {config.seed}",
        "config": asdict(config),
        "data": data_recipe(config),
        "trained_grid": [config.picture_size // 4, config.picture_size // 4],
        "text_tokens": {"clip": CLIP_TOKENS, "t5": T5_TOKENS},
        "vae": {"shift_factor": components["vae"].config.shift_factor,
                "scaling_factor": components["vae"].config.scaling_factor, "loss_curve": vae_curve},
        "transformer": {"loss_curve": flow_curve},
        "seconds": {"drawing": round(vae_started - started, 1), "vae": round(transformer_started - vae_started, 1),
                    "transformer": round(finished - transformer_started, 1), "total": round(finished - started, 1)},
        "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                     "transformers": transformers.__version__},
    }
    (Path(output_dir) / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m na_accel.tiny.shapes.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, required=True, help="the pipeline folder to write")
    defaults = TrainingConfig()
    for name in ("seed", "picture_size", "pictures", "warm_size", "warm_steps", "vae_steps", "transformer_steps",
                 "transformer_batch", "log_every", "threads"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    config = TrainingConfig(**{k: v for k, v in vars(args).items() if k != "output_dir"})
    record = train(args.output_dir, config, command="python -m na_accel.tiny.shapes.train " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"wrote {args.output_dir} in {record['seconds']['total']:.0f} s; final flow loss "
          f"{record['transformer']['loss_curve'][-1]['flow_loss']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
