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
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .config import TrainingConfig
from .flow import Stage, learning_rate, token_weights, train_transformer
from .scenes import BACKGROUND, COLOURS, JITTER, POSITIONS, SHAPES, SIZE_RANGE, draw, random_scene
from .tokenizer import CLIP_TOKENS, T5_TOKENS, shapes_tokenizer

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


def train_vae(vae, pictures: torch.Tensor, config: TrainingConfig, generator: torch.Generator) -> list[dict]:
    from tqdm import tqdm

    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
    curve, running = [], []
    vae.train()
    for step in (bar := tqdm(range(config.vae_steps), desc="VAE", unit="step")):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config.vae_steps, config.vae_lr, config.warmup_steps)
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
