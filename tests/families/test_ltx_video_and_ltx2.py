"""LTX-Video and LTX-2 adapters on tiny random-weight transformers (float32, CPU).

LTX-2's condition pipelines append keyframe tokens after the video grid: they must join every
video query's keys (like text) and attend densely themselves, checked against an explicit mask
built from NATTEN's per-axis rule (tests/helpers/window_oracles.py), not na_accel's code. What GNA can't
do exactly (a perturbed block's skipped attention, IC-LoRA's self-attention mask, a call without
the grid size) runs stock and is counted with its reason.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.transformers import transformer_ltx2

import na_accel
from na_accel import tiny
from helpers.window_oracles import natten_rule_neighbors

TOLERANCE = 1e-5
GRID = (2, 3, 4)


def _recipe(family, kernel_size, stride=1, dilation=1):
    return {"model": family, "dense_steps": 0,
            "default": {"kernel_size": kernel_size, "stride": stride, "dilation": dilation}}


def _run(transformer, inputs):
    with torch.no_grad():
        return transformer(**inputs, return_dict=False)[0]


def _run_patched(transformer, inputs, recipe, backend="reference"):
    na_accel.patch(transformer, recipe, backend=backend)
    try:
        output = _run(transformer, inputs)
        report = na_accel.describe(transformer).transformers[0]
        per_layer = {layer.name: {str(outcome): n for outcome, n in layer.counts.items()} for layer in report.layers}
        return output, dict(report.totals), per_layer
    finally:
        na_accel.unpatch(transformer)


def _difference(a, b):
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


def _window_mask(grid, kernel, stride, dilation, extra):
    """[S, S] bool: grid queries see their NATTEN neighborhood and every extra token; extra tokens see all."""
    cells = list(itertools.product(*(range(n) for n in grid)))
    n_grid = len(cells)
    mask = torch.ones(n_grid + extra, n_grid + extra, dtype=torch.bool)
    neighbors = [[natten_rule_neighbors(n, k, s, d, False, i) for i in range(n)]
                 for n, k, s, d in zip(grid, kernel, stride, dilation)]
    for q, q_cell in enumerate(cells):
        for kv, kv_cell in enumerate(cells):
            mask[q, kv] = all(kv_cell[a] in neighbors[a][q_cell[a]] for a in range(len(grid)))
    return mask


@pytest.fixture(scope="module")
def ltx2():
    return tiny.tiny_ltx2_transformer(seed=0)


@pytest.mark.parametrize("backend", ["reference", "flex-fna"])
def test_ltx2_keyframe_tokens_are_extra_keys(ltx2, backend, monkeypatch):
    kernel, stride, dilation, extra = (2, 3, 3), (1, 2, 1), (1, 1, 1), 5
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=2, text_len=6, keyframe_tokens=extra, seed=3)
    layout = na_accel.families.family_spec("ltx2").adapter().token_layout(ltx2, (), inputs)
    assert (layout.grid, layout.text_len, layout.text_first) == (GRID, extra, False)

    sparse, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", list(kernel), list(stride), list(dilation)),
                                     backend=backend)
    assert totals == {"sparse": ltx2.config.num_layers}

    # the independent judge: the stock model, its video self attention given the explicit mask
    mask = _window_mask(GRID, kernel, stride, dilation, extra)
    stock_dispatch = transformer_ltx2.dispatch_attention_fn
    masked = []

    def dispatch(query, key, value, attn_mask=None, **kwargs):
        if query.shape[1] == key.shape[1] == mask.shape[0] and attn_mask is None:  # attn1: video self attention
            masked.append(1)
            out = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                                                 attn_mask=mask)
            return out.transpose(1, 2)
        return stock_dispatch(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(transformer_ltx2, "dispatch_attention_fn", dispatch)
    expected = _run(ltx2, inputs)
    assert len(masked) == ltx2.config.num_layers
    assert _difference(sparse, expected) <= TOLERANCE
    monkeypatch.undo()
    assert _difference(sparse, _run(ltx2, inputs)) > 1e-4  # the window is really sparse


def test_ltx2_full_window_with_keyframes_reproduces_stock(ltx2):
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=2, text_len=6, keyframe_tokens=4, seed=1,
                                          valid_text_lens=[6, 2])
    stock = _run(ltx2, inputs)
    patched, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", list(GRID)))
    assert totals == {"full window": ltx2.config.num_layers}
    assert _difference(patched, stock) <= TOLERANCE


def test_ltx2_only_video_self_attention_is_routed(ltx2):
    stock = {name: type(module.processor) for name, module in ltx2.named_modules() if hasattr(module, "processor")}
    na_accel.patch(ltx2, _recipe("ltx2", [2, 3, 3]), backend="reference")
    try:
        changed = sorted(name for name, module in ltx2.named_modules()
                         if hasattr(module, "processor") and type(module.processor) is not stock[name])
    finally:
        na_accel.unpatch(ltx2)
    assert changed == [f"transformer_blocks.{i}.attn1" for i in range(ltx2.config.num_layers)]
    assert all(type(module.processor) is stock[name] for name, module in ltx2.named_modules()
               if hasattr(module, "processor"))


def test_ltx2_spatio_temporal_guidance_block_runs_stock_counted(ltx2):
    """A perturbed block (STG) skips its attention call: counted stock; the other block runs GNA."""
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=1, seed=2)
    inputs["spatio_temporal_guidance_blocks"] = [1]
    stock = _run(ltx2, inputs)
    patched, totals, per_layer = _run_patched(ltx2, inputs, _recipe("ltx2", list(GRID)))
    assert _difference(patched, stock) <= TOLERANCE
    assert per_layer["transformer_blocks.0.attn1"] == {"full window": 1}
    (reason, count), = per_layer["transformer_blocks.1.attn1"].items()
    assert count == 1 and "without a routed call" in str(reason)


def test_ltx2_self_attention_mask_runs_stock_counted(ltx2):
    """IC-LoRA's video_self_attention_mask weighs token pairs: GNA can't honour it."""
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=2, seed=4)
    tokens = inputs["hidden_states"].shape[1]
    inputs["video_self_attention_mask"] = torch.rand(2, tokens, tokens, generator=torch.Generator().manual_seed(0))
    stock = _run(ltx2, inputs)
    patched, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", [2, 3, 3]))
    assert _difference(patched, stock) <= TOLERANCE
    (reason, count), = totals.items()
    assert count == ltx2.config.num_layers and "attention_mask" in reason


def test_ltx2_coordinates_without_grid_size_run_stock_counted(ltx2):
    """The DFR tile pipelines pass video_coords only: no grid, every layer stock, with the reason."""
    inputs = tiny.ltx2_transformer_inputs(ltx2, GRID, batch=1, seed=5)
    inputs["video_coords"] = ltx2.rope.prepare_video_coords(1, *GRID, torch.device("cpu"), fps=24.0)
    for name in ("num_frames", "height", "width"):
        inputs.pop(name)
    stock = _run(ltx2, inputs)
    patched, totals, _ = _run_patched(ltx2, inputs, _recipe("ltx2", [2, 3, 3]))
    assert torch.equal(patched, stock)
    (reason, count), = totals.items()
    assert count == ltx2.config.num_layers and "without num_frames, height and width" in reason


def _condition_coordinates(grid, extra_frames, frame_index, batch=2, frame_rate=25.0):
    """LTXConditionPipeline's video_coords: a conditioning video's ``extra_frames`` latent frames at
    ``frame_index`` in front of the generated grid, scaled as the pipeline scales them (written here from
    the pipeline's description: frame -> frame * 8 + 1 - 8 clamped at 0, plus the frame index, over the
    frame rate; rows and columns x 32)."""
    def ids(frames, index):
        cells = itertools.product(range(frames), *(range(n) for n in grid[1:]))
        f, h, w = torch.tensor(list(cells), dtype=torch.float32).T
        return torch.stack([((f * 8 + 1 - 8).clamp(min=0) + index) / frame_rate, h * 32, w * 32])

    coords = torch.cat([ids(extra_frames, frame_index), ids(grid[0], 0)], dim=1) if extra_frames else ids(grid[0], 0)
    return coords[None].repeat(batch, 1, 1)


def _ltx_video_condition_inputs(transformer, grid, extra_frames, seed=6):
    inputs = tiny.ltx_video_transformer_inputs(transformer, grid, batch=2, seed=seed)
    extra = extra_frames * grid[1] * grid[2]
    generator = torch.Generator().manual_seed(seed + 1)
    inputs["hidden_states"] = torch.cat(
        [torch.randn(2, extra, transformer.config.in_channels, generator=generator), inputs["hidden_states"]], dim=1)
    inputs["video_coords"] = _condition_coordinates(grid, extra_frames, frame_index=16)
    for name in ("num_frames", "height", "width", "rope_interpolation_scale"):
        inputs.pop(name)
    return inputs, extra


@pytest.mark.parametrize("extra_frames", [0, 2])
def test_ltx_video_condition_coordinates_give_the_grid_and_extra_keys(extra_frames, monkeypatch):
    """LTXConditionPipeline passes video_coords only, conditioning tokens in front of the grid."""
    from diffusers.models.transformers import transformer_ltx

    transformer = tiny.tiny_ltx_video_transformer(seed=0)
    inputs, extra = _ltx_video_condition_inputs(transformer, GRID, extra_frames)
    layout = na_accel.families.family_spec("ltx_video").adapter().token_layout(transformer, (), inputs)
    assert (layout.grid, layout.text_len, layout.text_first, layout.problem) == (GRID, extra, True, None)

    stock = _run(transformer, inputs)
    full, totals, _ = _run_patched(transformer, inputs, _recipe("ltx_video", list(GRID)))
    assert totals == {"full window": transformer.config.num_layers} and _difference(full, stock) <= TOLERANCE

    kernel, stride = (2, 2, 3), (1, 1, 2)
    sparse, totals, _ = _run_patched(transformer, inputs, _recipe("ltx_video", list(kernel), list(stride)))
    assert totals == {"sparse": transformer.config.num_layers} and _difference(sparse, stock) > 1e-4
    mask = _window_mask(GRID, kernel, stride, (1, 1, 1), extra).roll((extra, extra), (0, 1))  # extra tokens first
    stock_dispatch = transformer_ltx.dispatch_attention_fn

    def dispatch(query, key, value, attn_mask=None, **kwargs):
        if query.shape[1] == key.shape[1] == mask.shape[0] and attn_mask is None:
            out = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                                                 attn_mask=mask)
            return out.transpose(1, 2)
        return stock_dispatch(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(transformer_ltx, "dispatch_attention_fn", dispatch)
    assert _difference(sparse, _run(transformer, inputs)) <= TOLERANCE


def test_ltx_video_coordinates_without_a_grid_run_stock_counted():
    transformer = tiny.tiny_ltx_video_transformer(seed=0)
    inputs, _ = _ltx_video_condition_inputs(transformer, GRID, 0)
    shuffle = torch.randperm(24, generator=torch.Generator().manual_seed(0))
    inputs["video_coords"] = inputs["video_coords"][:, :, shuffle]
    stock = _run(transformer, inputs)
    patched, totals, _ = _run_patched(transformer, inputs, _recipe("ltx_video", [2, 3, 3]))
    assert torch.equal(patched, stock)
    (reason, count), = totals.items()
    assert count == transformer.config.num_layers and "video_coords" in reason


def test_ltx_video_sparse_window_against_an_independent_mask(monkeypatch):
    from diffusers.models.transformers import transformer_ltx

    transformer = tiny.tiny_ltx_video_transformer(seed=0)
    kernel, stride, dilation = (2, 3, 3), (1, 1, 2), (1, 1, 1)
    inputs = tiny.ltx_video_transformer_inputs(transformer, (2, 3, 5), batch=2, text_len=6, valid_text_lens=[6, 3])
    sparse, totals, _ = _run_patched(transformer, inputs, _recipe("ltx_video", list(kernel), list(stride)))
    assert totals == {"sparse": transformer.config.num_layers}
    mask = _window_mask((2, 3, 5), kernel, stride, dilation, 0)
    stock_dispatch = transformer_ltx.dispatch_attention_fn

    def dispatch(query, key, value, attn_mask=None, **kwargs):
        if query.shape[1] == key.shape[1] == mask.shape[0] and attn_mask is None:
            out = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                                                 attn_mask=mask)
            return out.transpose(1, 2)
        return stock_dispatch(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(transformer_ltx, "dispatch_attention_fn", dispatch)
    assert _difference(sparse, _run(transformer, inputs)) <= TOLERANCE


def test_ltx_video_condition_pipeline_reads_its_grid_and_conditioning_tokens():
    """The real LTXConditionPipeline (tiny components): an image at frame 0 is blended into the grid, one
    at frame 8 becomes a latent frame of tokens in front of it: extra keys; full window == stock."""
    import numpy as np
    import PIL.Image
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXConditionPipeline
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    from na_accel.tiny._text import tiny_t5_text_encoder, tiny_t5_tokenizer
    from na_accel.tiny.ltx_video import TINY_LTX_VIDEO_TEXT_DIM, tiny_ltx_video_vae

    tokenizer = tiny_t5_tokenizer()
    pipe = LTXConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=tiny_ltx_video_vae(1), tokenizer=tokenizer,
        text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=TINY_LTX_VIDEO_TEXT_DIM, seed=2),
        transformer=tiny.tiny_ltx_video_transformer(0),
    )
    pipe.set_progress_bar_config(disable=True)
    image = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8))
    adapter = na_accel.families.family_spec("ltx_video").adapter()
    layouts = []

    def generate():
        conditions = [LTXVideoCondition(image=image, frame_index=0), LTXVideoCondition(image=image, frame_index=8)]
        with torch.no_grad():
            return pipe(conditions=conditions, prompt="a red fox", height=64, width=96, num_frames=17,
                        num_inference_steps=1, max_sequence_length=16, output_type="latent",
                        generator=torch.Generator().manual_seed(0)).frames

    hook = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: layouts.append(adapter.token_layout(module, args, kwargs)), with_kwargs=True)
    stock = generate()
    hook.remove()
    # 17 frames of 64x96 -> 3 latent frames of 2x3; the frame-8 image: one latent frame of 2x3 tokens
    assert [(layout.grid, layout.text_len, layout.text_first, layout.problem) for layout in layouts] == [
        ((3, 2, 3), 6, True, None)]
    for window, outcome in (([3, 2, 3], "full window"), ([2, 2, 2], "sparse")):
        na_accel.patch(pipe, _recipe("ltx_video", window), backend="reference")
        try:
            out = generate()
            totals = dict(na_accel.describe(pipe).transformers[0].totals)
        finally:
            na_accel.unpatch(pipe)
        assert totals == {outcome: pipe.transformer.config.num_layers}
        assert (_difference(out, stock) <= TOLERANCE) == (outcome == "full window")


def test_ltx2_condition_pipeline_keyframe_tokens_join_as_extra_keys():
    """The real LTX2ConditionPipeline (tiny components): an image at latent frame 2 becomes keyframe tokens
    appended after the grid: extra keys; full window == stock, a small window runs sparse."""
    import numpy as np
    import PIL.Image
    from diffusers import FlowMatchEulerDiscreteScheduler, LTX2ConditionPipeline
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    from na_accel.tiny import ltx2 as tiny_ltx2
    from na_accel.tiny._text import tiny_llama_tokenizer

    tokenizer = tiny_llama_tokenizer()
    pipe = LTX2ConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=tiny_ltx2.tiny_ltx2_vae(1),
        audio_vae=tiny_ltx2.tiny_ltx2_audio_vae(3), tokenizer=tokenizer,
        text_encoder=tiny_ltx2.tiny_ltx2_text_encoder(len(tokenizer), seed=2),
        connectors=tiny_ltx2.tiny_ltx2_connectors(4), transformer=tiny_ltx2.tiny_ltx2_transformer(0),
        vocoder=tiny_ltx2.tiny_ltx2_vocoder(5),
    )
    pipe.set_progress_bar_config(disable=True)
    image = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8))
    adapter = na_accel.families.family_spec("ltx2").adapter()
    layouts = []

    def generate():
        # crf=0: no H.264 re-compression of the images (it needs PyAV); one pass per step (no STG, no modality)
        conditions = [LTX2VideoCondition(frames=image, index=0, crf=0),
                      LTX2VideoCondition(frames=image, index=2, crf=0)]
        with torch.no_grad():
            return pipe(conditions=conditions, prompt="a red fox", height=64, width=96, num_frames=17,
                        num_inference_steps=1, max_sequence_length=16, stg_scale=0.0, audio_stg_scale=0.0,
                        modality_scale=1.0, audio_modality_scale=1.0, output_type="latent",
                        generator=torch.Generator().manual_seed(0)).frames

    hook = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: layouts.append(adapter.token_layout(module, args, kwargs)), with_kwargs=True)
    stock = generate()
    hook.remove()
    # 17 frames of 64x96 -> 3 latent frames of 2x3; the keyframe: one latent frame of 2x3 tokens after them
    assert [(layout.grid, layout.text_len, layout.text_first, layout.problem) for layout in layouts] == [
        ((3, 2, 3), 6, False, None)]
    for window, outcome in (([3, 2, 3], "full window"), ([2, 2, 2], "sparse")):
        na_accel.patch(pipe, _recipe("ltx2", window), backend="reference")
        try:
            out = generate()
            totals = dict(na_accel.describe(pipe).transformers[0].totals)
        finally:
            na_accel.unpatch(pipe)
        assert totals == {outcome: pipe.transformer.config.num_layers}
        assert (_difference(out, stock) <= TOLERANCE) == (outcome == "full window")


def _modular_ltx_video():
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.modular_pipelines import LTXAutoBlocks

    from na_accel.tiny import ltx_video as tiny_ltx_video
    from na_accel.tiny._text import tiny_t5_text_encoder, tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    components = dict(tokenizer=tokenizer, vae=tiny_ltx_video.tiny_ltx_video_vae(1),
                      text_encoder=tiny_t5_text_encoder(len(tokenizer), d_model=tiny.TINY_LTX_VIDEO_TEXT_DIM, seed=2),
                      scheduler=FlowMatchEulerDiscreteScheduler(), transformer=tiny.tiny_ltx_video_transformer(0))
    return LTXAutoBlocks(), components, "ltx_video"


def _modular_ltx2():
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.modular_pipelines import LTX2AutoBlocks

    from na_accel.tiny import ltx2 as tiny_ltx2
    from na_accel.tiny._text import tiny_llama_tokenizer

    tokenizer = tiny_llama_tokenizer()
    components = dict(tokenizer=tokenizer, text_encoder=tiny_ltx2.tiny_ltx2_text_encoder(len(tokenizer), seed=2),
                      connectors=tiny_ltx2.tiny_ltx2_connectors(4), vae=tiny_ltx2.tiny_ltx2_vae(1),
                      audio_vae=tiny_ltx2.tiny_ltx2_audio_vae(3), vocoder=tiny_ltx2.tiny_ltx2_vocoder(5),
                      scheduler=FlowMatchEulerDiscreteScheduler(), transformer=tiny.tiny_ltx2_transformer(0))
    return LTX2AutoBlocks(), components, "ltx2"


@pytest.mark.parametrize("build", [_modular_ltx_video, _modular_ltx2], ids=["LTXAutoBlocks", "LTX2AutoBlocks"])
def test_modular_pipelines_are_patched(build):
    """The modular LTX pipelines (their guiders' passes included) route every video self attention."""
    from na_accel.tiny._defaults import tiny_modular_pipeline

    blocks, components, family = build()
    pipe = tiny_modular_pipeline(blocks, components, dict(height=64, width=576, num_frames=9, num_inference_steps=1,
                                                          max_sequence_length=16, output_type="np"))

    def latents():
        with torch.no_grad():
            return pipe(prompt="a red fox", generator=torch.Generator().manual_seed(0)).values["latents"]

    stock = latents()
    for window, outcome in (([4, 4, 18], "full window"), ([2, 2, 3], "sparse")):
        na_accel.patch(pipe, _recipe(family, window), backend="reference")
        try:
            out = latents()
            (ran, calls), = na_accel.describe(pipe).transformers[0].totals.items()
        finally:
            na_accel.unpatch(pipe)
        assert ran == outcome and calls > 0 and calls % components["transformer"].config.num_layers == 0
        assert (_difference(out, stock) <= TOLERANCE) == (outcome == "full window")
