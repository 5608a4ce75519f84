"""Tests for na_accel.models.synthetic: random inputs each family's transformer accepts, reproducible by seed,
and a denoising loop that patch and recipes see like a pipeline."""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import pytest
import torch

import na_accel
from na_accel import tiny
from na_accel.errors import ArgumentError
from na_accel.families import FAMILY_SPECS, family_spec
from na_accel.models.synthetic import INPUT_BUILDERS, SyntheticPipeline

FAMILIES = sorted(INPUT_BUILDERS)
GRIDS = {2: (3, 5), 3: (2, 3, 5)}


def tiny_transformer(family):
    return getattr(tiny, f"tiny_{family}_transformer")(seed=0)


def grid_of(family):
    return GRIDS[len(family_spec(family).geometry.axes)]


# Image families whose pipelines pass the (B, C, H, W) latent unpacked, and video families that pass
# the video packed into tokens (B, F*H*W, C * patch volume), against the usual layouts.
UNPACKED_IMAGES = {"hunyuan_image"}
PACKED_VIDEO = {"minimax_h3", "ltx_video", "ltx2"}


def packed(family):
    """Image families (FLUX, FLUX.2) take packed tokens (B, H*W, C); video families (B, C, F, H, W)."""
    return family in PACKED_VIDEO or (not family_spec(family).geometry.is_video and family not in UNPACKED_IMAGES)


def expected_latent_shape(transformer, family, grid, batch):
    """The latent shape the family's pipeline passes, from the transformer's config alone: the
    channels it predicts (HunyuanVideo 1.5 also takes condition channels after the latents)."""
    config = transformer.config
    if family in PACKED_VIDEO:  # LTX: patch_size (spatial) and patch_size_t, 1 x 1 x 1 in the tiny configs
        patch = config.patch_size if not isinstance(config.patch_size, int) else (
            config.patch_size_t, config.patch_size, config.patch_size)
        return (batch, math.prod(grid), config.in_channels * math.prod(patch))
    if packed(family):
        return (batch, math.prod(grid), config.in_channels)
    patch = config.patch_size
    if family in UNPACKED_IMAGES:
        patches = (patch,) * len(grid) if isinstance(patch, int) else tuple(patch)
        return (batch, config.in_channels, *(n * p for n, p in zip(grid, patches)))
    if isinstance(patch, int):  # hunyuan_video(15): patch_size (spatial) and patch_size_t
        patch = (config.patch_size_t, patch, patch)
    channels = min(config.in_channels, config.get("out_channels") or config.in_channels)
    return (batch, channels, *(n * p for n, p in zip(grid, patch)))


@pytest.mark.parametrize("family", FAMILIES)
def test_inputs_have_the_shapes_the_transformer_takes(family):
    transformer, grid = tiny_transformer(family), grid_of(family)
    inputs = INPUT_BUILDERS[family](transformer, grid, 2, 7, "cpu", torch.float32, 0)
    assert tuple(inputs.latents.shape) == expected_latent_shape(transformer, family, grid, 2)
    model_input = inputs.latents
    if inputs.condition is not None:  # condition channels after the latents, up to in_channels
        model_input = torch.cat([inputs.latents, inputs.condition], dim=1)
    config = transformer.config
    patch_volume = 1
    if family in PACKED_VIDEO:
        patch_volume = math.prod((config.patch_size_t, config.patch_size, config.patch_size)
                                 if isinstance(config.patch_size, int) else config.patch_size)
    assert model_input.shape[2 if packed(family) else 1] == transformer.config.in_channels * patch_volume
    kwargs = {**inputs.kwargs, inputs.latent_key: model_input}
    assert inputs.kwargs["encoder_hidden_states"].shape[0] == 2
    spec = family_spec(family)
    if spec.text_in_self_attention:  # text_len tokens join the attention (HunyuanVideo 1.5: from 3 inputs)
        assert spec.adapter().token_layout(transformer, (), kwargs).text_len == 7
    else:
        assert inputs.kwargs["encoder_hidden_states"].shape[1] == 7
    timestep = torch.full((2,), 500.0) * inputs.timestep_scale
    with torch.no_grad():
        out = transformer(**kwargs, timestep=timestep, return_dict=False)[0]
    assert out.shape == inputs.latents.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_the_same_seed_gives_the_same_inputs_and_another_seed_others(family):
    transformer, grid = tiny_transformer(family), grid_of(family)
    first, again, other = (INPUT_BUILDERS[family](transformer, grid, 1, 5, "cpu", torch.float32, seed)
                           for seed in (3, 3, 4))
    assert torch.equal(first.latents, again.latents)
    assert first.kwargs.keys() == again.kwargs.keys()
    for key, value in first.kwargs.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, again.kwargs[key]), key
    assert not torch.equal(first.latents, other.latents)
    assert not torch.equal(first.kwargs["encoder_hidden_states"], other.kwargs["encoder_hidden_states"])


@pytest.mark.parametrize("family", FAMILIES)
def test_the_loop_calls_the_transformer_once_per_step_and_is_reproducible(family):
    pipe = SyntheticPipeline(tiny_transformer(family), family, text_len=6)
    timesteps = []
    pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: timesteps.append(kwargs["timestep"].clone()), with_kwargs=True)
    grid = grid_of(family)
    out = pipe(grid=grid, num_inference_steps=3, batch=2, seed=1)
    assert len(timesteps) == 3
    # FLUX's and FLUX.2's transformers take t / 1000, the video transformers the scheduler's t in [0, 1000]
    top = 1000.0 * family_spec(family).timestep_scale
    assert all(t.shape == (2,) and 0 < t.max() <= top for t in timesteps)
    assert timesteps[0].max() > top / 2  # not scaled twice
    assert out.shape == expected_latent_shape(pipe.transformer, family, grid, 2)
    assert torch.equal(out, pipe(grid=grid, num_inference_steps=3, batch=2, seed=1))
    assert not torch.equal(out, pipe(grid=grid, num_inference_steps=3, batch=2, seed=2))


@pytest.mark.parametrize("family", FAMILIES)
def test_patch_finds_the_token_grid_of_synthetic_inputs(family):
    pipe = SyntheticPipeline(tiny_transformer(family), family, text_len=6)
    grid = grid_of(family)
    na_accel.patch(pipe, {"model": family, "default": {"kernel_size": 2}}, backend="reference")
    pipe(grid=grid, num_inference_steps=2, seed=0)
    totals = na_accel.describe(pipe).transformers[0].totals
    assert totals.get("sparse", 0) > 0 and set(totals) == {"sparse"}, totals  # no dense fallback


def test_an_unknown_family_names_it_and_the_known_ones():
    with pytest.raises(ArgumentError, match=r"model: no synthetic inputs for family 'sd3'") as info:
        SyntheticPipeline(torch.nn.Linear(1, 1), "sd3")
    assert all(repr(family) in str(info.value) for family in FAMILIES)


def test_cosmos_with_a_padding_mask_needs_torchvision_and_says_how_to_avoid_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision -> ImportError
    transformer = SimpleNamespace(config=SimpleNamespace(concat_padding_mask=True))
    with pytest.raises(ArgumentError, match=r"torchvision.*--config-override concat_padding_mask=false"):
        INPUT_BUILDERS["cosmos"](transformer, (2, 3, 5), 1, 4, "cpu", torch.float32, 0)


@pytest.mark.parametrize("family", [spec.name for spec in FAMILY_SPECS if spec.synthetic_loop_problem])
def test_a_family_the_loop_cannot_drive_is_refused_before_building(family, monkeypatch):
    """Z-Image (lists by position) and Kandinsky 6 (a channels-last latent): --random-weights says why,
    before a full-size transformer is built."""
    import na_accel.models.zoo as zoo

    monkeypatch.setattr(zoo, "build_on_device", lambda *a, **k: pytest.fail("a full-size model was built"))
    name = next(n for n, spec in zoo.MODELS.items() if spec.config_file and spec.family == family)
    with pytest.raises(ArgumentError, match=rf"--random-weights {name}: the synthetic loop of --random-weights "
                                            rf"can't run {family}: .*bench a real {family} pipeline"):
        zoo.load_model(name, random_weights=True)
    assert family not in INPUT_BUILDERS
