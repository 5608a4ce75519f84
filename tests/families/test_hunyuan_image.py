"""HunyuanImage 2.1 on tiny transformers (float32, CPU): the text-to-image model (ByT5 glyph tokens
joined to the padded Qwen text, reordered valid first by the forward) and the refiner's shape (a
(1, 1, 1) patch over a one-frame 5-D latent, no ByT5, guidance-distilled): a full window is stock,
a small one is the reference backend's, and what GNA can't take runs stock, counted."""

from __future__ import annotations

import pytest
import torch
from diffusers import HunyuanImageTransformer2DModel

import na_accel
from na_accel.tiny import hunyuan_image_transformer_inputs, tiny_hunyuan_image_transformer
from na_accel.families.registry import family_spec
from helpers.patched_runs import run_patched

TOLERANCE = 1e-5
TEXT_LEN = 8  # 6 Qwen + 2 ByT5 tokens for the text-to-image model (hunyuan_image_transformer_inputs)
# Row masks as the pipeline could pass them: Qwen right-padded, ByT5 valid only where the prompt
# quotes text; the forward reorders each row to [valid ByT5, valid Qwen, padding].
QWEN_MASKS = ([1] * 4 + [0] * 2, [1] * 6)
BYT5_MASKS = ([1, 0], [0, 0])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _refiner(seed=0):
    """The refiner's configuration (convert_hunyuan_image_to_diffusers.py), tiny."""
    torch.manual_seed(seed)
    return HunyuanImageTransformer2DModel(
        in_channels=8, out_channels=4, num_attention_heads=2, attention_head_dim=16, num_layers=1,
        num_single_layers=1, num_refiner_layers=1, mlp_ratio=2.0, patch_size=(1, 1, 1), text_embed_dim=32,
        rope_axes_dim=(4, 6, 6), guidance_embeds=True).eval()


MODELS = {"text-to-image": tiny_hunyuan_image_transformer, "refiner": _refiner}


def _inputs(transformer, grid, seed=0):
    inputs = hunyuan_image_transformer_inputs(transformer, grid, batch=2, text_len=TEXT_LEN, seed=seed)
    if "encoder_hidden_states_2" in inputs:
        inputs["encoder_attention_mask"] = torch.tensor(QWEN_MASKS)
        inputs["encoder_attention_mask_2"] = torch.tensor(BYT5_MASKS)
    else:
        inputs["encoder_attention_mask"] = torch.tensor([[1] * 5 + [0] * 3, [1] * 8])
    return inputs


def _run_patched(transformer, inputs, window, backend="auto"):
    return run_patched(transformer, inputs, {"model": "hunyuan_image", "default": window}, backend)


def _layers(transformer):
    return transformer.config.num_layers + transformer.config.num_single_layers


def test_layout_reads_the_grid_and_the_valid_joint_text():
    adapter = family_spec("hunyuan_image").adapter()
    transformer = tiny_hunyuan_image_transformer()
    layout = adapter.token_layout(transformer, (), _inputs(transformer, (3, 5)))
    assert layout.problem is None and layout.grid == (3, 5) and layout.text_first is False
    assert layout.text_len == TEXT_LEN and layout.text_valid_lens == (5, 6)  # ByT5 + Qwen valid tokens
    refiner = _refiner()
    inputs = _inputs(refiner, (3, 5))
    assert inputs["hidden_states"].shape == (2, 8, 1, 3, 5)  # one latent frame
    layout = adapter.token_layout(refiner, (), inputs)
    assert layout.problem is None and layout.grid == (3, 5) and layout.text_valid_lens == (5, 8)


@pytest.mark.parametrize("model", MODELS)
def test_full_window_reproduces_stock(model):
    transformer = MODELS[model]()
    inputs = _inputs(transformer, (4, 7), seed=1)
    with torch.no_grad():
        stock = transformer(**inputs).sample
    patched, totals = _run_patched(transformer, inputs, {"kernel_size": [4, 7]})
    assert totals == {"full window": _layers(transformer)}
    assert (patched - stock).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("model", MODELS)
def test_sparse_window_matches_the_reference_backend(model):
    transformer = MODELS[model]()
    inputs = _inputs(transformer, (5, 7), seed=2)
    window = {"kernel_size": [3, 3], "stride": [1, 2], "dilation": [2, 1]}
    reference, totals = _run_patched(transformer, inputs, window, backend="reference")
    out, _ = _run_patched(transformer, inputs, window)
    with torch.no_grad():
        stock = transformer(**inputs).sample
    assert totals == {"sparse": _layers(transformer)}
    assert (out - reference).abs().max().item() <= TOLERANCE
    assert (out - stock).abs().max().item() > 1e-4


def test_several_latent_frames_have_no_grid_and_run_stock_counted():
    transformer = _refiner()
    inputs = _inputs(transformer, (3, 5))
    inputs["hidden_states"] = torch.cat([inputs["hidden_states"]] * 2, dim=2)  # 2 latent frames
    layout = family_spec("hunyuan_image").adapter().token_layout(transformer, (), inputs)
    assert layout.grid is None and "2 token frames" in layout.problem
    with pytest.warns(UserWarning, match="token frames"):
        _, totals = _run_patched(transformer, inputs, {"kernel_size": [3, 3]})
    assert list(totals.values()) == [_layers(transformer)] and "token frames" in next(iter(totals))


def test_left_padded_text_runs_stock_counted():
    """The refiner's Qwen text is not reordered (no ByT5): a left-padded mask is no valid prefix."""
    transformer = _refiner()
    inputs = _inputs(transformer, (3, 5))
    inputs["encoder_attention_mask"] = torch.tensor([[0] * 3 + [1] * 5, [1] * 8])
    with torch.no_grad():
        stock = transformer(**inputs).sample
    with pytest.warns(UserWarning, match="attention_mask"):
        out, totals = _run_patched(transformer, inputs, {"kernel_size": [3, 3]})
    assert sum(totals.values()) == _layers(transformer) and "sparse" not in totals
    assert (out - stock).abs().max().item() <= TOLERANCE


def test_compiles_to_the_stock_graphs_with_the_byt5_join():
    """The stock forward's ByT5 join (boolean indexing: data-dependent shapes) breaks dynamo's
    graph, so no fullgraph compile (tests/helpers/family_cases.py passes Qwen text only for that test);
    patched, it compiles to as many graphs as stock, with eager's output and counts."""
    from torch._dynamo.utils import counters

    def graphs(transformer, inputs):
        with torch.no_grad():
            eager = transformer(**inputs).sample
        torch._dynamo.reset()
        counters.clear()
        compiled = torch.compile(transformer, backend="eager")
        with torch.no_grad():
            for _ in range(2):
                assert (compiled(**inputs).sample - eager).abs().max().item() <= 1e-6
        return counters["stats"]["unique_graphs"]

    transformer = tiny_hunyuan_image_transformer().requires_grad_(False)
    inputs = _inputs(transformer, (4, 5))
    try:
        stock = graphs(transformer, inputs)
        na_accel.patch(transformer, {"model": "hunyuan_image", "default": {"kernel_size": [3, 3]}},
                       backend="reference")
        assert graphs(transformer, inputs) == stock
        assert na_accel.describe(transformer).transformers[0].totals == {"sparse": 3 * _layers(transformer)}
    finally:
        torch._dynamo.reset()
