"""The tiny MiniMax-H3 preset: a modular pipeline (MiniMaxH3Blocks less decode) generating video and
audio latents offline; a plain prompt call runs its defaults, and its default run is sparse with the
shipped recipe. (tests/tiny/test_tiny_pipelines.py checks the classic presets' decoded outputs.)"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

import na_accel
from na_accel.pipeline_parts import generated, is_modular
from na_accel.tiny import TINY_PIPELINES, tiny_pipeline
from na_accel.models.zoo import MODELS

NAME = "tiny-minimax-h3"


@pytest.fixture(scope="module")
def pipe():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # toy-width ops gain nothing from threads on a shared CPU
    yield tiny_pipeline(NAME, seed=0)
    torch.set_num_threads(threads)


@contextmanager
def transformer_calls(pipe):
    calls = []
    handle = pipe.transformer.register_forward_pre_hook(lambda m, a, kwargs: calls.append(kwargs), with_kwargs=True)
    try:
        yield calls
    finally:
        handle.remove()


def test_the_preset_is_a_modular_t2va_pipeline(pipe):
    assert type(pipe).__name__ == "MiniMaxH3ModularPipeline" and is_modular(pipe)
    assert "decode" not in pipe.blocks.sub_blocks  # latents in hand: diffusers' own way to skip decoding
    assert pipe.transformer is not None and getattr(pipe, "transformer_ref", None) is None  # t2va's partition
    assert MODELS[NAME].family == "minimax_h3"


def test_it_generates_video_and_audio_latents_one_call_per_step(pipe):
    call = TINY_PIPELINES[NAME][1]
    kwargs = call(steps=2)
    with transformer_calls(pipe) as calls:
        state = pipe(**kwargs)
    latents = generated(state)
    # 121 frames -> 3 latent frames of 128 / 16 x 1024 / 16, 4 channels; 2 x 202 audio latents of 32
    assert latents.shape == (1, 4, 3, 8, 64) and torch.isfinite(latents).all()
    assert state.get("audio_latents").shape == (2, 32, 202)  # (stereo channel, audio latent channels, latents)
    assert len(calls) == 2  # guidance-distilled: one transformer call per step
    seen = calls[0]
    assert seen["hidden_states"].shape == (1, 3 * 4 * 32, 16)  # (3, 4, 32) tokens of 4 x 1 x 2 x 2
    assert seen["audio_hidden_states"].shape == (1, 404, 32)
    # [text | audio | video]: the video rows end the sequence
    assert seen["video_indices"][-1] == seen["position_ids"].shape[0] - 1


def test_a_plain_prompt_call_runs_the_defaults_and_follows_the_prompt(pipe):
    embeddings = []
    for prompt in ("a red fox", "a big cat"):
        with transformer_calls(pipe) as calls:
            pipe(prompt=prompt, num_inference_steps=3)  # 3 schedule points: 2 transformer calls
        assert len(calls) == 2
        assert calls[0]["hidden_states"].shape[1] == 3 * 4 * 32  # the tiny default size, not 768x1344
        embeddings.append(calls[0]["encoder_hidden_states"])
    fox, cat = embeddings
    assert fox.shape == cat.shape == (1, 9, 32) and (fox - cat).abs().max() > 0  # one token per character


def test_the_default_run_is_sparse_with_the_shipped_recipe(pipe):
    na_accel.patch(pipe, "minimax_h3_gna")
    try:
        with transformer_calls(pipe) as calls:
            pipe(**TINY_PIPELINES[NAME][1]())
        report = na_accel.describe(pipe)
    finally:
        na_accel.unpatch(pipe)
    (transformer,) = report.transformers
    assert len(calls) == 17
    # 2 layers: the first 15 calls dense (the recipe's dense_steps), the last 2 GNA
    assert transformer.totals["sparse"] == 2 * 2
    assert sum(transformer.totals.values()) == 2 * 17
