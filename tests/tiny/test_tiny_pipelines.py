"""The tiny offline models: bare transformers with their input builders, pipeline runs, plain prompt
calls, and default runs that the shipped recipes run sparse."""

import math
from contextlib import contextmanager

import numpy as np
import pytest
import torch

import na_accel
from na_accel import tiny
from na_accel.errors import ArgumentError
from na_accel.families.base import forward_arguments
from na_accel.families.registry import adapter_for, family_geometry
from na_accel.pipeline_parts import generated, latent_output, pipeline_transformers
from na_accel.tiny import TINY_PIPELINES, tiny_pipeline, cosmos_transformer_inputs, hunyuan_video15_transformer_inputs, hunyuan_video_transformer_inputs, tiny_cosmos_transformer, tiny_hunyuan_video15_call, tiny_hunyuan_video15_transformer, tiny_hunyuan_video_call, tiny_hunyuan_video_transformer, tiny_wan_transformer, wan_transformer_inputs

# preset -> (output attribute, token grid of the call helper's default sizes, transformer calls per step)
PRESETS = {
    "tiny-flux": ("images", (16, 16), 1),
    "tiny-flux-shapes": ("images", (32, 32), 2),  # trained; true CFG with the empty negative prompt
    "tiny-flux-kontext": ("images", ((16, 16), (12, 10)), 1),  # the output's grid, then its reference image's
    "tiny-hunyuan-video": ("frames", (3, 3, 8), 1),
    "tiny-cosmos": ("frames", (3, 3, 44), 2),
    "tiny-cosmos2-t2i": ("images", (1, 3, 44), 2),
    "tiny-wan": ("frames", (3, 3, 32), 2),
    "tiny-wan2.2": ("frames", (3, 3, 32), 2),
    "tiny-hunyuan-video15": ("frames", (3, 3, 8), 2),
    "tiny-flux2": ("images", (16, 16), 1),
    "tiny-flux2-klein": ("images", (16, 16), 2),
    "tiny-qwen-image": ("images", (16, 16), 2),  # true CFG with the default negative prompt
    "tiny-ltx-video": ("frames", ((2, 2, 18),), 1),  # packed tokens: checked by count; CFG batched in one call
    "tiny-ltx2": ("frames", ((2, 2, 18),), 2),  # packed tokens; CFG batched, then the modality-isolation pass
    "tiny-flux-modular": ("images", (16, 16), 1),
    "tiny-wan2.2-modular": ("frames", (3, 3, 32), 2),
    "tiny-hunyuan-image": ("images", (16, 16), 2),  # the guider's classifier-free guidance
    "tiny-helios": ("frames", (2, 3, 32), 2),  # one chunk (after the history), CFG: two calls per step
    "tiny-minimax-h3": ("latents", (3, 4, 32), 1),  # modular, no decode step: the video latents; guidance-distilled
    "tiny-chroma": ("images", (16, 16), 2),  # CFG: a second call with the negative prompt
    "tiny-flux3": ("images", (16, 16), 2),  # CFG: the guider's two branches, one call each
    "tiny-z-image": ("images", (16, 16), 1),  # CFG: prompt and negative prompt in one call
    "tiny-kandinsky6": ("frames", (3, 4, 8), 2),
    "tiny-wan-vace": ("frames", (2, 3, 32), 2),
    "tiny-skyreels-v2": ("frames", (3, 3, 32), 2),
}
# preset -> its family's shipped recipe
SHIPPED_RECIPES = {
    "tiny-flux": "flux_gna",
    "tiny-flux-shapes": "flux_gna",
    "tiny-flux-kontext": "flux_gna",
    "tiny-hunyuan-video": "hunyuan_video_gna",
    "tiny-cosmos": "cosmos_gna",
    "tiny-cosmos2-t2i": "cosmos_gna",
    "tiny-wan": "wan_gna",
    "tiny-wan2.2": "wan_gna",
    "tiny-hunyuan-video15": "hunyuan_video15_gna",
    "tiny-flux2": "flux2_gna",
    "tiny-flux2-klein": "flux2_gna",
    "tiny-qwen-image": "qwen_image_gna",
    "tiny-ltx-video": "ltx_video_gna",
    "tiny-ltx2": "ltx2_gna",
    "tiny-flux-modular": "flux_gna",
    "tiny-wan2.2-modular": "wan_gna",
    "tiny-hunyuan-image": "hunyuan_image_gna",
    "tiny-helios": "helios_gna",
    "tiny-minimax-h3": "minimax_h3_gna",
    "tiny-chroma": "chroma_gna",
    "tiny-flux3": "flux3_gna",
    "tiny-z-image": "z_image_gna",
    "tiny-kandinsky6": "kandinsky6_gna",
    "tiny-wan-vace": "wan_vace_gna",
    "tiny-skyreels-v2": "skyreels_v2_gna",
}

TRANSFORMERS = {
    "hunyuan_video": (tiny_hunyuan_video_transformer, hunyuan_video_transformer_inputs),
    "cosmos": (tiny_cosmos_transformer, cosmos_transformer_inputs),
    "wan": (tiny_wan_transformer, wan_transformer_inputs),
    "hunyuan_video15": (tiny_hunyuan_video15_transformer, hunyuan_video15_transformer_inputs),
    "wan_vace": (tiny.tiny_wan_vace_transformer, tiny.wan_vace_transformer_inputs),
    "skyreels_v2": (tiny.tiny_skyreels_v2_transformer, tiny.skyreels_v2_transformer_inputs),
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


class TooManyTokens(Exception):
    pass


@contextmanager
def transformer_calls(pipe, max_tokens=None):
    """Records (component name, forward kwargs) of every transformer call of ``pipe``; with
    ``max_tokens``, a call over more visual tokens stops the run at once (a full-size default)."""
    calls, handles = [], []

    def record(name, module, args, kwargs):
        tokens = sum(math.prod(g) for g in grids_of(module, args, kwargs))  # the family's own reading
        if max_tokens is not None and tokens > max_tokens:
            raise TooManyTokens(f"{name} called on {tokens} visual tokens (> {max_tokens})")
        calls.append((name, forward_arguments(module, args, kwargs)))  # by name (Z-Image passes some by position)

    for name, module in pipeline_transformers(pipe):
        hook = lambda mod, args, kwargs, name=name: record(name, mod, args, kwargs)  # noqa: E731
        handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def grids_of(transformer, args, kwargs):
    """The token grids of one forward call (the output's, then reference images'), as its family reads them."""
    layout = adapter_for(transformer).token_layout(transformer, args, kwargs)
    assert layout.grid is not None, layout.problem
    return (layout.grid, *layout.extra_grids)


def input_tensors(arguments):
    """A forward call's tensors by name (lists of tensors, as Z-Image's, by name and index)."""
    tensors = {}
    for key, value in arguments.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        tensors.update({(key, i): item for i, item in enumerate(values) if isinstance(item, torch.Tensor)})
    return tensors


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
    # out_channels: the latent's (HunyuanVideo 1.5's input also holds a condition latent and a mask)
    channels = transformer.config.get("out_channels") or inputs["hidden_states"].shape[1]
    assert out.shape == (batch, channels, *inputs["hidden_states"].shape[2:])
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
        out = generated(pipe(**kwargs))  # a classic pipeline's .images / .frames, a modular one's state
    out = torch.as_tensor(np.asarray(out)) if isinstance(out, np.ndarray) else out
    assert torch.isfinite(out).all()
    height, width = kwargs["height"], kwargs["width"]
    if attribute == "latents":  # a pipeline without a decode step: its video latents (B, C, F, H, W)
        assert out.shape[:2] == (1, pipe.transformer.config.in_channels) and token_grid(pipe.transformer, out) == grid
    elif attribute == "images":
        assert out.shape == (1, 3, height, width)
    elif isinstance(out, torch.Tensor) and out.shape[-1] == 3:  # np output: (B, F, H, W, 3)
        assert out.shape == (1, kwargs["num_frames"], height, width, 3)
    else:
        assert out.shape == (1, kwargs["num_frames"], 3, height, width)
    assert len(calls) == 2 * calls_per_step
    grids = grid if isinstance(grid[0], tuple) else (grid,)  # the output's, then reference images' (Kontext)
    for component, seen in calls:
        assert grids_of(getattr(pipe, component), (), seen) == grids


@pytest.mark.parametrize("name, family", [("tiny-hunyuan-video", "hunyuan_video"), ("tiny-wan", "wan"),
                                          ("tiny-hunyuan-video15", "hunyuan_video15")])
def test_default_grid_matches_family_geometry(name, family):
    """These tiny VAEs compress like the real ones, so the registry predicts their grids."""
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
    # a longer run: the high-noise expert runs the steps whose timestep is >= boundary_ratio * 1000
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    scheduler.set_timesteps(6)
    boundary = pipe.config.boundary_ratio * scheduler.config.num_train_timesteps
    expected = ["transformer" if t >= boundary else "transformer_2" for t in scheduler.timesteps.tolist()]
    assert len(set(expected)) == 2
    with transformer_calls(pipe) as calls:
        pipe(**TINY_PIPELINES["tiny-wan2.2"][1](steps=6))
    assert [component for component, _ in calls] == [c for c in expected for _ in range(2)]  # CFG: twice


@pytest.mark.parametrize("name", ["tiny-cosmos", "tiny-cosmos2-t2i", "tiny-wan", "tiny-flux2-klein"])
def test_cfg_calls_the_transformer_twice_per_step(pipes, name):
    pipe, call = pipes[name], TINY_PIPELINES[name][1]
    with transformer_calls(pipe) as calls:
        pipe(**call(steps=3))
    assert len(calls) == 6
    with transformer_calls(pipe) as calls:
        pipe(**call(steps=3, guidance_scale=1.0))
    assert len(calls) == 3


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_plain_prompt_call_runs_the_tiny_defaults_and_follows_the_prompt(pipes, name):
    """``pipe(prompt="a red fox", num_inference_steps=2)``, as any diffusers pipeline is called: the
    tiny text encoders encode the prompt, and left-out sizes are the call helper's (not the full
    model's). By keyword: FluxKontextPipeline's first parameter is the image."""
    attribute, grid, calls_per_step = PRESETS[name]
    pipe = pipes[name]
    grids = grid if isinstance(grid[0], tuple) else (grid,)
    max_tokens = sum(math.prod(g) for g in grids)  # the full-size defaults are thousands of times more
    embeddings = {}
    for prompt in ("a red fox", "a big cat"):
        # 2 denoising steps, as the pipeline counts them (MiniMax-H3's scheduler counts its last, model-free point)
        steps = TINY_PIPELINES[name][1](steps=2)["num_inference_steps"]
        with transformer_calls(pipe, max_tokens=max_tokens) as calls:
            out = pipe(prompt=prompt, num_inference_steps=steps, generator=torch.Generator().manual_seed(0))
        assert len(calls) == 2 * calls_per_step
        defaults = TINY_PIPELINES[name][1]()
        picture = np.asarray(generated(out)[0])  # (H, W, 3), (F, H, W, 3) for a video, (C, F, H, W) for latents
        if attribute == "latents":
            assert picture.shape[0] == pipe.transformer.config.in_channels
        else:
            assert picture.shape[-3:-1] == (defaults["height"], defaults["width"])
        component, seen = calls[0]
        assert grids_of(getattr(pipe, component), (), seen) == grids
        embeddings[prompt] = input_tensors(seen)
    fox, cat = embeddings.values()  # same seed, same sizes: only the text differs
    assert fox.keys() == cat.keys() and all(fox[key].shape == cat[key].shape for key in fox)
    assert any((fox[key] - cat[key]).abs().max() > 0 for key in fox)  # the prompt reaches the text encoders


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_default_run_is_sparse_with_the_shipped_recipe(pipes, name):
    """The call helper's defaults (size, steps) give the shipped recipe grids it does not cover
    whole and steps past its dense_steps, so GNA runs: not only full windows and dense steps."""
    pipe, call = pipes[name], TINY_PIPELINES[name][1]
    recipe = na_accel.load_recipe(SHIPPED_RECIPES[name])
    na_accel.patch(pipe, recipe)
    try:
        pipe(**call(**latent_output(pipe)))
        report = na_accel.describe(pipe)
    finally:
        na_accel.unpatch(pipe)
    assert report.transformers
    for transformer in report.transformers:  # Wan 2.2: both experts
        assert transformer.totals["sparse"] > 0, (transformer.attribute, dict(transformer.totals))


def test_tiny_pipeline_by_name():
    pipe = tiny_pipeline("tiny-wan", seed=1)
    assert type(pipe).__name__ == "WanPipeline" and pipe.transformer is not None
    with pytest.raises(ArgumentError, match=r"name: 'tiny-sdxl' is not a tiny preset; allowed: tiny-chroma, tiny-cosmos, "):
        tiny_pipeline("tiny-sdxl")


def test_tiny_call_defaults_fill_only_what_a_call_leaves_out():
    from na_accel.tiny._defaults import tiny_pipeline_class, with_call_defaults

    class Pipeline:
        def __call__(self, prompt=None, negative_prompt=None, negative_prompt_embeds=None, height=1024,
                     num_inference_steps=50, generator=None):
            return dict(prompt=prompt, negative_prompt=negative_prompt, negative_prompt_embeds=negative_prompt_embeds,
                        height=height, num_inference_steps=num_inference_steps, generator=generator)

    defaults = {"prompt": "a cat", "negative_prompt": "blurry", "height": 48, "num_inference_steps": 2,
                "generator": "seeded"}
    pipe = with_call_defaults(tiny_pipeline_class(Pipeline)(), defaults)
    assert type(pipe).__name__ == "Pipeline" and isinstance(pipe, Pipeline)
    assert pipe("a fox") == dict(prompt="a fox", negative_prompt="blurry", negative_prompt_embeds=None, height=48,
                                 num_inference_steps=2, generator=None)  # the prompt and generator: the caller's
    given = pipe("a fox", "dark", height=64, num_inference_steps=3)  # positional and keyword arguments win
    assert (given["negative_prompt"], given["height"], given["num_inference_steps"]) == ("dark", 64, 3)
    assert pipe("a fox", negative_prompt_embeds="embeds")["negative_prompt"] is None  # not text and embeddings


def test_hunyuan_video15_prompts_set_qwen_and_byt5_valid_tokens(pipes):
    """One Qwen token per character plus the chat template's 13 closing tokens; quoted text is
    ByT5 glyph text (``Text "FOX". ``, one token per byte plus the end token), else none valid."""
    pipe = pipes["tiny-hunyuan-video15"]
    prompts = ["a cat", 'a sign "FOX"']
    with transformer_calls(pipe) as calls:
        pipe(**tiny_hunyuan_video15_call(prompt=prompts, steps=1))
    (_, cond), (_, uncond) = calls  # classifier-free guidance: conditional call, then unconditional
    assert cond["encoder_attention_mask"].shape == (2, 48) and cond["encoder_attention_mask_2"].shape == (2, 16)
    assert cond["encoder_attention_mask"].sum(dim=1).tolist() == [len(p) + 13 for p in prompts]
    assert cond["encoder_attention_mask_2"].sum(dim=1).tolist() == [0, len('Text "FOX". ') + 1]
    assert uncond["encoder_attention_mask"].sum(dim=1).tolist() == [1 + 13] * 2  # the empty prompt is " "
    assert not cond["image_embeds"].any()  # text-to-video: the image tokens are padding
    unguided = TINY_PIPELINES["tiny-hunyuan-video15"][0](seed=0, guidance_scale=1.0)
    with transformer_calls(unguided) as calls:
        unguided(**tiny_hunyuan_video15_call(steps=2))
    assert len(calls) == 2  # no guidance: one call per step
