"""The tiny offline models: bare transformers with their input builders, and 2-step pipeline runs."""

from contextlib import contextmanager

import numpy as np
import pytest
import torch

from na_accel.models.registry import family_geometry
from na_accel.tiny import (
    TINY_PIPELINES,
    cosmos_transformer_inputs,
    hunyuan_video_transformer_inputs,
    tiny_cosmos_transformer,
    tiny_hunyuan_video_call,
    tiny_hunyuan_video_transformer,
    tiny_wan_transformer,
    wan_transformer_inputs,
)

# preset -> (output attribute, token grid of the call helper's default sizes, transformer calls per step)
PRESETS = {
    "tiny-flux": ("images", (5, 7), 1),
    "tiny-hunyuan-video": ("frames", (3, 3, 4), 1),
    "tiny-cosmos": ("frames", (3, 3, 5), 2),
    "tiny-cosmos2-t2i": ("images", (1, 3, 5), 2),
    "tiny-wan": ("frames", (3, 3, 4), 2),
    "tiny-wan2.2": ("frames", (3, 3, 4), 2),
}

TRANSFORMERS = {
    "hunyuan_video": (tiny_hunyuan_video_transformer, hunyuan_video_transformer_inputs),
    "cosmos": (tiny_cosmos_transformer, cosmos_transformer_inputs),
    "wan": (tiny_wan_transformer, wan_transformer_inputs),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Toy-width ops gain nothing from threads, and lose a lot when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pipes():
    return {name: factory(seed=0) for name, (factory, _) in TINY_PIPELINES.items()}


@contextmanager
def transformer_calls(pipe):
    """Records (component name, forward kwargs) of every transformer call of ``pipe``."""
    calls, handles = [], []
    for name in ("transformer", "transformer_2"):
        module = getattr(pipe, name, None)
        if module is not None:
            hook = lambda mod, args, kwargs, name=name: calls.append((name, kwargs))  # noqa: E731
            handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def token_grid(transformer, hidden_states):
    if hidden_states.ndim == 3:  # FLUX: packed (B, H*W, C); the grid is checked through its shape alone
        return None
    config = transformer.config
    if isinstance(config.patch_size, int):  # HunyuanVideo
        patch = (config.patch_size_t, config.patch_size, config.patch_size)
    else:
        patch = tuple(config.patch_size)
    return tuple(n // p for n, p in zip(hidden_states.shape[2:], patch))


@pytest.mark.parametrize("family", sorted(TRANSFORMERS))
@pytest.mark.parametrize("grid, batch", [((3, 3, 4), 1), ((2, 5, 3), 2), ((1, 7, 5), 2)])
def test_tiny_transformer_forward_keeps_shape(family, grid, batch):
    make, build = TRANSFORMERS[family]
    transformer = make(seed=0)
    inputs = build(transformer, grid=grid, batch=batch, text_len=6, seed=1)
    assert token_grid(transformer, inputs["hidden_states"]) == grid
    with torch.no_grad():
        out = transformer(**inputs).sample
    assert out.shape == inputs["hidden_states"].shape
    assert torch.isfinite(out).all()


def test_hunyuan_video_inputs_mask_valid_text_prefix():
    transformer = tiny_hunyuan_video_transformer()
    inputs = hunyuan_video_transformer_inputs(transformer, grid=(2, 3, 3), batch=2, text_len=6, valid_text_lens=[2, 5])
    mask = inputs["encoder_attention_mask"]
    assert mask.tolist() == [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]]
    assert "guidance" in inputs  # the tiny config is guidance-distilled
    with torch.no_grad():
        assert torch.isfinite(transformer(**inputs).sample).all()
    with pytest.raises(ValueError, match="valid_text_lens"):
        hunyuan_video_transformer_inputs(transformer, batch=2, text_len=6, valid_text_lens=[7, 1])


def test_cosmos_inputs_with_condition_mask():
    """Video-to-world configs count a condition-mask channel in in_channels."""
    transformer = tiny_cosmos_transformer(in_channels=5)
    inputs = cosmos_transformer_inputs(transformer, grid=(2, 3, 5), batch=2, condition_mask=True, fps=None)
    assert inputs["hidden_states"].shape[1] == 4 and inputs["condition_mask"].shape[1] == 1
    with torch.no_grad():
        assert transformer(**inputs).sample.shape == (2, 5, 2, 6, 10)


def test_presets_are_listed():
    assert set(TINY_PIPELINES) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_tiny_pipeline_generates(pipes, name):
    attribute, grid, calls_per_step = PRESETS[name]
    pipe, (_, call) = pipes[name], TINY_PIPELINES[name]
    kwargs = call(steps=2)
    with transformer_calls(pipe) as calls:
        out = getattr(pipe(**kwargs), attribute)
    out = torch.as_tensor(np.asarray(out)) if isinstance(out, np.ndarray) else out
    assert torch.isfinite(out).all()
    height, width = kwargs["height"], kwargs["width"]
    if attribute == "images":
        assert out.shape == (1, 3, height, width)
    elif isinstance(out, torch.Tensor) and out.shape[-1] == 3:  # np output: (B, F, H, W, 3)
        assert out.shape == (1, kwargs["num_frames"], height, width, 3)
    else:
        assert out.shape == (1, kwargs["num_frames"], 3, height, width)
    assert len(calls) == 2 * calls_per_step
    for component, seen in calls:
        transformer = getattr(pipe, component)
        if grid is not None and len(grid) == 3:
            assert token_grid(transformer, seen["hidden_states"]) == grid
        else:
            assert seen["hidden_states"].shape[1] == grid[0] * grid[1]


@pytest.mark.parametrize("name, family", [("tiny-hunyuan-video", "hunyuan_video"), ("tiny-wan", "wan")])
def test_default_grid_matches_family_geometry(name, family):
    """These two tiny VAEs compress like the real ones, so the registry predicts their grids."""
    kwargs = TINY_PIPELINES[name][1]()
    grid = family_geometry(family).token_grid(kwargs["height"], kwargs["width"], kwargs["num_frames"])
    assert grid == PRESETS[name][1]


def test_hunyuan_video_prompt_length_sets_valid_text_tokens(pipes):
    pipe = pipes["tiny-hunyuan-video"]
    prompts = ["a cat", "a red fox jumps over a dog"]  # 5 and 26 characters, both under 32
    with transformer_calls(pipe) as calls:
        pipe(**tiny_hunyuan_video_call(prompt=prompts, steps=1))
    (_, seen), = calls
    mask = seen["encoder_attention_mask"]
    assert mask.shape == (2, 32)
    valid = mask.sum(dim=1).tolist()
    # one token per character, plus the end-of-turn token; then padding
    assert valid == [len(prompts[0]) + 1, len(prompts[1]) + 1]
    for row, n in zip(mask, valid):
        assert row[: int(n)].all() and not row[int(n):].any()


def test_cosmos2_text_to_image_is_one_latent_frame(pipes):
    pipe = pipes["tiny-cosmos2-t2i"]
    with transformer_calls(pipe) as calls:
        pipe(**TINY_PIPELINES["tiny-cosmos2-t2i"][1](steps=1))
    assert [seen["hidden_states"].shape[2] for _, seen in calls] == [1, 1]


def test_wan22_two_stage_runs_both_transformers(pipes):
    pipe = pipes["tiny-wan2.2"]
    assert pipe.transformer is not pipe.transformer_2 and pipe.config.boundary_ratio is not None
    with transformer_calls(pipe) as calls:
        pipe(**TINY_PIPELINES["tiny-wan2.2"][1](steps=2))
    assert [component for component, _ in calls] == ["transformer"] * 2 + ["transformer_2"] * 2


@pytest.mark.parametrize("name", ["tiny-cosmos", "tiny-cosmos2-t2i", "tiny-wan"])
def test_cfg_calls_the_transformer_twice_per_step(pipes, name):
    pipe, call = pipes[name], TINY_PIPELINES[name][1]
    with transformer_calls(pipe) as calls:
        pipe(**call(steps=3))
    assert len(calls) == 6
    with transformer_calls(pipe) as calls:
        pipe(**call(steps=3, guidance_scale=1.0))
    assert len(calls) == 3
