"""The transformer's training of tiny-flux-shapes: rectified flow on packed latents, FLUX's way.

The transformer and both text encoders learn jointly; the loss weighs the tokens that show the shape
(``token_weights``); training runs in stages of picture sizes (``Stage``) under one learning-rate
schedule (``learning_rate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import TrainingConfig
from .scenes import foreground
from .tokenizer import CLIP_TOKENS, T5_TOKENS


def learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then a cosine decay to 10% of it at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, H/2 * W/2, 4C]: FLUX's 2x2 packing (FluxPipeline._pack_latents)."""
    b, c, h, w = latents.shape
    latents = latents.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return latents.reshape(b, (h // 2) * (w // 2), c * 4)


def flux_image_ids(height: int, width: int) -> torch.Tensor:
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
        img_ids = flux_image_ids(stage.latents.shape[2] // 2, stage.latents.shape[3] // 2) * (config.picture_size / stage.size)
        txt_ids = torch.zeros(T5_TOKENS, 3)
        bar.set_description(f"transformer, {stage.size}x{stage.size} pixels")
        for stage_step in range(stage.steps):
            loss = _flow_step(components, optimizer, parameters, packed, weights, img_ids, txt_ids, captions,
                              config, generator, learning_rate(step, total, config.transformer_lr, config.warmup_steps))
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
    return loss.item()
