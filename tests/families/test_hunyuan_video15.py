"""HunyuanVideo 1.5 on its tiny transformer (float32, CPU): stock with a full window, the reference
backend when sparse, and its padded joint text (image, ByT5 and Qwen tokens, reordered valid first)."""

from __future__ import annotations

import pytest
import torch

import na_accel
from na_accel.errors import UnsupportedModelError
from diffusers.models.transformers.transformer_hunyuan_video15 import HunyuanVideo15AttnProcessor2_0

from na_accel.runtime.seam import routed_class

from na_accel.families.hunyuan_video15_spec import text_parts
from na_accel.tiny import hunyuan_video15_transformer_inputs, tiny_hunyuan_video15_transformer
from na_accel.families.registry import family_spec
from helpers.patched_runs import run, run_patched

GNAHunyuanVideo15AttnProcessor = routed_class(HunyuanVideo15AttnProcessor2_0)

TOLERANCE = 1e-5
TEXT_LEN = 24  # joint text: 8 image, 3 ByT5, 13 Qwen tokens
N_IMAGE, N_BYT5, N_QWEN = text_parts(TEXT_LEN)
# Row masks as the pipeline could pass them (not valid-first: the forward reorders them).
QWEN_MASKS = ([1] * 11 + [0] * 2, [0, 0] + [1] * 4 + [0] * 7)
BYT5_MASKS = ([1, 1, 0], [0, 0, 0])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def transformer():
    return tiny_hunyuan_video15_transformer(seed=0)


def _inputs(transformer, grid, seed=0, image_to_video=False, batch=2):
    inputs = hunyuan_video15_transformer_inputs(transformer, grid, batch=batch, text_len=TEXT_LEN, seed=seed,
                                                image_to_video=image_to_video)
    inputs["encoder_attention_mask"] = torch.tensor(QWEN_MASKS[:batch], dtype=torch.float32)
    inputs["encoder_attention_mask_2"] = torch.tensor(BYT5_MASKS[:batch], dtype=torch.float32)
    return inputs


def _valid_lens(image_to_video=False, batch=2):
    image = N_IMAGE if image_to_video else 0
    return tuple(image + sum(q) + sum(b) for q, b in zip(QWEN_MASKS[:batch], BYT5_MASKS[:batch]))


def _recipe(kernel_size, stride=1, dilation=1, is_causal=False, **extra):
    window = {"kernel_size": kernel_size, "stride": stride, "dilation": dilation, "is_causal": is_causal}
    return {"model": "hunyuan_video15", "default": window, **extra}


def test_layout_reads_grid_and_valid_joint_text(transformer):
    adapter = family_spec("hunyuan_video15").adapter()
    for image_to_video in (False, True):
        layout = adapter.token_layout(transformer, (), _inputs(transformer, (2, 3, 5), image_to_video=image_to_video))
        assert layout.problem is None and layout.grid == (2, 3, 5) and layout.text_first is False
        assert layout.text_len == TEXT_LEN and layout.text_valid_lens == _valid_lens(image_to_video)


@pytest.mark.parametrize("image_to_video", [False, True])
@pytest.mark.parametrize("grid", [(3, 5, 4), (2, 3, 7)])
def test_full_window_reproduces_stock(transformer, grid, image_to_video):
    inputs = _inputs(transformer, grid, seed=1, image_to_video=image_to_video)
    stock = run(transformer, inputs)
    patched, totals = run_patched(transformer, inputs, _recipe(list(grid)))
    assert totals == {"full window": transformer.config.num_layers}
    assert (patched - stock).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("image_to_video", [False, True])
@pytest.mark.parametrize(
    "grid, window",
    [
        ((4, 5, 7), dict(kernel_size=[3, 3, 5], stride=[1, 2, 3])),  # odd sizes, borders, stride
        ((4, 6, 5), dict(kernel_size=[2, 3, 2], stride=[2, 1, 1], dilation=[2, 1, 2], is_causal=[True, False, False])),
    ],
)
def test_sparse_window_matches_reference(transformer, grid, window, image_to_video):
    inputs = _inputs(transformer, grid, seed=2, image_to_video=image_to_video)
    sparse, totals = run_patched(transformer, inputs, _recipe(**window))
    reference, _ = run_patched(transformer, inputs, _recipe(**window), backend="reference")
    assert totals == {"sparse": transformer.config.num_layers}
    assert (sparse - reference).abs().max().item() <= TOLERANCE
    assert (sparse - run(transformer, inputs)).abs().max().item() > 1e-3  # the window changed attention


def _edit_text_at_attention(transformer, row, positions, amount=5.0):
    """A pre-hook on every GNA layer that changes the text tokens ``positions`` of ``row`` (their keys,
    values and queries) after the forward has reordered them: what the attention itself sees."""

    def edit(module, args, kwargs):
        text = kwargs["encoder_hidden_states"].clone()
        text[row, positions] += amount
        return args, {**kwargs, "encoder_hidden_states": text}

    layers = [m for n, m in transformer.named_modules() if n.startswith("transformer_blocks.") and n.endswith(".attn")]
    return [layer.register_forward_pre_hook(edit, with_kwargs=True) for layer in layers]


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_padded_text_is_never_a_key(transformer, backend):
    """Padded text (after the reorder: every token past the row's valid length) changed inside the
    attention layers leaves the video output as it is; a valid text token changed does not."""
    inputs = _inputs(transformer, (3, 4, 5), seed=3)
    recipe = _recipe(kernel_size=[2, 3, 3], stride=[1, 2, 1])
    out, totals = run_patched(transformer, inputs, recipe, backend=backend)
    assert totals["sparse"] > 0
    valid = _valid_lens()[1]
    for positions, changes in ((slice(valid, None), False), (slice(valid - 1, valid), True)):
        handles = _edit_text_at_attention(transformer, 1, positions)
        try:
            edited, _ = run_patched(transformer, inputs, recipe, backend=backend)
        finally:
            for handle in handles:
                handle.remove()
        assert ((edited[1] - out[1]).abs().max().item() > 1e-3) == changes
        assert (edited[0] - out[0]).abs().max().item() <= TOLERANCE  # the other row never sees row 1's text


def test_padded_text_queries_run_as_stock_with_a_full_window(transformer):
    """Padded text QUERIES get fully masked rows in stock; their outputs (the text stream) match too."""
    inputs = _inputs(transformer, (2, 3, 4), seed=4)
    seen = {}
    layer = dict(transformer.named_modules())["transformer_blocks.0.attn"]
    handle = layer.register_forward_hook(lambda m, args, kwargs, out: seen.setdefault("out", out), with_kwargs=True)
    try:
        run(transformer, inputs)
        stock = seen.pop("out")
        run_patched(transformer, inputs, _recipe([2, 3, 4]))
        patched = seen.pop("out")
    finally:
        handle.remove()
    for a, b in zip(stock, patched):  # (video, text) outputs of the layer, padded text rows included
        assert torch.equal(torch.isnan(a), torch.isnan(b))
        assert (a - b).nan_to_num().abs().max().item() <= TOLERANCE


def test_rows_with_different_valid_lengths_match_single_rows(transformer):
    inputs = _inputs(transformer, (2, 5, 4), seed=5)
    recipe = _recipe(kernel_size=[2, 3, 2], dilation=[1, 1, 2])
    batched, totals = run_patched(transformer, inputs, recipe)
    assert totals["sparse"] > 0 and len(set(_valid_lens())) == 2
    for row in range(2):
        single = {k: v[row: row + 1] if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        alone, _ = run_patched(transformer, single, recipe)
        assert (batched[row] - alone[0]).abs().max().item() <= TOLERANCE


def test_only_the_dual_stream_attention_is_replaced_and_unpatch_is_bit_identical(transformer):
    before = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    inputs = _inputs(transformer, (3, 4, 5), seed=6)
    stock = run(transformer, inputs)
    na_accel.patch(transformer, _recipe([2, 3, 3]))
    after = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    replaced = sorted(n for n in after if after[n] is not before[n])
    assert replaced == [f"transformer_blocks.{i}.attn" for i in range(transformer.config.num_layers)]
    assert all(type(after[n]) is GNAHunyuanVideo15AttnProcessor for n in replaced)
    refiner = [n for n in before if n.startswith("context_embedder.token_refiner")]
    assert refiner and all(after[n] is before[n] for n in refiner)  # text only: never GNA
    na_accel.unpatch(transformer)
    restored = {n: m.processor for n, m in transformer.named_modules() if hasattr(m, "processor")}
    assert all(restored[n] is before[n] for n in before)
    assert torch.equal(run(transformer, inputs), stock)
    assert not transformer._forward_pre_hooks and not transformer._forward_hooks


@pytest.mark.parametrize("change", ["shorter text", "not valid first"])
def test_a_mask_other_than_the_inputs_is_followed_or_counted(transformer, change):
    """A mask changed on its way to a layer (a user's hook) is what stock honours there: shorter
    valid text, GNA honours too (a full window == stock under the same hook: the stock mask's text
    rows, padded queries attending to nothing, included); valid text that is no prefix, GNA can't:
    that layer runs stock, counted."""
    inputs = _inputs(transformer, (2, 3, 4), seed=7)
    layer = dict(transformer.named_modules())["transformer_blocks.0.attn"]
    valid = _valid_lens()[0]

    def edit_mask(module, args, kwargs):
        mask = kwargs["attention_mask"].clone()
        mask[0, valid - 1] = False
        if change == "not valid first":
            mask[0, valid] = True
        return args, {**kwargs, "attention_mask": mask}

    handle = layer.register_forward_pre_hook(edit_mask, with_kwargs=True)
    try:
        if change == "shorter text":
            stock = run(transformer, inputs)
            out, totals = run_patched(transformer, inputs, _recipe([2, 3, 4]), backend="flex-fna")
            assert totals == {"full window": transformer.config.num_layers}
            assert (out - stock).abs().max().item() <= TOLERANCE
            return
        with pytest.warns(UserWarning, match="transformer_blocks.0.attn ran dense"):
            _, totals = run_patched(transformer, inputs, _recipe([2, 2, 3]))
    finally:
        handle.remove()
    dense = [k for k in totals if k.startswith("dense:")]
    assert len(dense) == 1 and totals[dense[0]] == 1 and totals["sparse"] == transformer.config.num_layers - 1
    assert "can't honour" in dense[0]


def test_missing_text_inputs_are_a_counted_dense_fallback_naming_them(transformer):
    inputs = _inputs(transformer, (2, 3, 4))
    del inputs["image_embeds"]
    layout = family_spec("hunyuan_video15").adapter().token_layout(transformer, (), inputs)
    assert layout.grid is None and "forward called without image_embeds (expected all of" in layout.problem
    inputs = _inputs(transformer, (2, 3, 4))
    inputs["encoder_attention_mask_2"] = inputs["encoder_attention_mask_2"][:, :2]
    layout = family_spec("hunyuan_video15").adapter().token_layout(transformer, (), inputs)
    assert layout.grid is None and "encoder_attention_mask_2 (B, N2)" in layout.problem
    assert "encoder_attention_mask_2 (2, 2)" in layout.problem


def test_subclasses_with_other_layouts_are_refused(transformer):
    subclass = type("HunyuanVideo15Variant", (type(transformer),), {})
    variant = tiny_hunyuan_video15_transformer(seed=0)
    variant.__class__ = subclass
    with pytest.raises(UnsupportedModelError, match="(?s)HunyuanVideo15Variant is not supported.*HunyuanVideo15Transformer3DModel"):
        na_accel.patch(variant, _recipe([2, 2, 2]))
    assert not hasattr(variant, "_na_accel_patch")


def test_input_builder_splits_the_joint_text_as_the_pipeline(transformer):
    assert text_parts(1985) == (729, 256, 1000) and text_parts(1) == (0, 0, 1)
    inputs = hunyuan_video15_transformer_inputs(transformer, (2, 3, 3), batch=2, text_len=24, valid_text_lens=[14, 5])
    assert inputs["encoder_attention_mask"].sum(dim=1).tolist() == [13, 5]  # Qwen first ...
    assert inputs["encoder_attention_mask_2"].sum(dim=1).tolist() == [1, 0]  # ... then ByT5
    assert not inputs["image_embeds"].any()  # text-to-video
    layout = family_spec("hunyuan_video15").adapter().token_layout(transformer, (), inputs)
    assert layout.text_len == 24 and layout.text_valid_lens == (14, 5)
    with pytest.raises(ValueError, match=r"valid_text_lens: \[17, 1\] is not valid; allowed: 2 ints in \[0, 16\]"):
        hunyuan_video15_transformer_inputs(transformer, batch=2, text_len=24, valid_text_lens=[17, 1])
    with pytest.raises(ValueError, match=r"allowed: 2 ints in \[8, 24\]"):
        hunyuan_video15_transformer_inputs(transformer, batch=2, text_len=24, valid_text_lens=[7, 9], image_to_video=True)


def test_pipeline_batch_of_two_prompt_lengths_with_cfg_matches_reference():
    """Two prompts of different lengths (one with ByT5 glyph text), the guider's CFG, a dense step."""
    from na_accel.tiny import TINY_PIPELINES

    make, call = TINY_PIPELINES["tiny-hunyuan-video15"]
    pipe = make(seed=0)
    kwargs = dict(prompt=["a cat", 'a sign "FOX" in the snow'], steps=3, output_type="latent")
    recipe = {"model": "hunyuan_video15", "dense_steps": 1, "default": {"kernel_size": [2, 3, 3], "stride": [1, 2, 1]}}
    outputs = {}
    for backend in ("auto", "reference"):
        na_accel.patch(pipe, recipe, backend=backend)
        try:
            outputs[backend] = pipe(**call(**kwargs)).frames
            totals = na_accel.describe(pipe).transformers[0].totals
        finally:
            na_accel.unpatch(pipe)
        layers = pipe.transformer.config.num_layers  # 2 calls per step (CFG): 1 dense step, 2 sparse
        assert totals == {"dense: dense step (step < dense_steps=1)": 2 * layers, "sparse": 2 * 2 * layers}
    assert (outputs["auto"] - outputs["reference"]).abs().max().item() <= TOLERANCE
    assert (outputs["auto"] - pipe(**call(**kwargs)).frames).abs().max().item() > 1e-4


@pytest.mark.slow
def test_under_torch_compile_the_trusted_mask_runs_sparse_and_equals_eager(transformer):
    """The stock forward breaks dynamo's graph (data-dependent ``if is_t2v``), so the blocks compile
    as frames of their own; the processors trust the (batch, text) mask there and stay exact."""
    inputs = _inputs(transformer, (2, 3, 4), seed=8)
    recipe = _recipe(kernel_size=[2, 3, 3])
    torch._dynamo.reset()
    na_accel.patch(transformer, recipe, backend="reference")
    try:
        eager = run(transformer, inputs)
        compiled = torch.compile(transformer, backend="eager")
        with torch.no_grad():
            outputs = [compiled(**inputs).sample for _ in range(2)]
        totals = na_accel.describe(transformer).transformers[0].totals
    finally:
        na_accel.unpatch(transformer)
        torch._dynamo.reset()
    assert all((output - eager).abs().max().item() <= 1e-6 for output in outputs)
    assert totals == {"sparse": 3 * transformer.config.num_layers}
