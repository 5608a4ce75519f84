"""Chroma on a tiny random-weight transformer (float32, CPU): the bool text padding mask honoured
exactly (against stock and against the same prompt without its padding), the sparse window against
the reference backend, and the masks GNA can't honour (diffusers' float mask, non-prefix padding)
running stock, counted with their reason."""

from __future__ import annotations

import pytest
import torch

from na_accel import tiny
from helpers.patched_runs import run, run_patched

TEXT_LEN = 6
GRID = (5, 7)


@pytest.fixture(scope="module")
def transformer():
    return tiny.tiny_chroma_transformer(seed=0)


def _inputs(transformer, valid=(6, 3), batch=2):
    return tiny.chroma_transformer_inputs(transformer, GRID, batch=batch, text_len=TEXT_LEN, valid_text_lens=valid)


def _run_patched(transformer, inputs, kernel_size, backend="reference"):
    return run_patched(transformer, inputs, {"model": "chroma", "default": {"kernel_size": kernel_size}}, backend)


def test_full_window_with_padded_text_is_stock(transformer):
    inputs = _inputs(transformer)
    out, totals = _run_patched(transformer, inputs, 4096)
    assert (out - run(transformer, inputs)).abs().max().item() <= 1e-5
    assert totals == {"full window": 4}


def test_padded_row_equals_the_same_prompt_without_its_padding(transformer):
    """Independent of the stock mask: row 1 (3 valid of 6 text tokens) under GNA equals GNA on the
    prompt cut to its 3 tokens, no mask; so the padded keys are really cut."""
    inputs = _inputs(transformer)
    out, totals = _run_patched(transformer, inputs, [3, 3])
    assert totals == {"sparse": 4}
    cut = {**inputs, "hidden_states": inputs["hidden_states"][1:], "timestep": inputs["timestep"][1:],
           "encoder_hidden_states": inputs["encoder_hidden_states"][1:, :3], "txt_ids": inputs["txt_ids"][:3]}
    del cut["attention_mask"]
    alone, _ = _run_patched(transformer, cut, [3, 3])
    assert (out[1] - alone[0]).abs().max().item() <= 1e-5
    assert (out - run(transformer, inputs)).abs().max().item() > 1e-4  # the window is sparse


@pytest.mark.parametrize("backend", ["flex-fna", "triton"])
def test_sparse_padded_matches_reference(transformer, backend):
    inputs = _inputs(transformer)
    reference, _ = _run_patched(transformer, inputs, [3, 3])
    out, totals = _run_patched(transformer, inputs, [3, 3], backend=backend)
    assert (out - reference).abs().max().item() <= 1e-5 and totals == {"sparse": 4}


def test_diffusers_float_mask_runs_stock_counted(transformer):
    """diffusers' Chroma pipelines pass the mask in the text encoder's dtype: SDPA adds it to the scores."""
    inputs = _inputs(transformer)
    inputs["attention_mask"] = inputs["attention_mask"].float()
    with pytest.warns(UserWarning, match="added to the scores"):
        out, totals = _run_patched(transformer, inputs, [3, 3])
    assert (out - run(transformer, inputs)).abs().max().item() == 0
    [(reason, calls)] = totals.items()
    assert calls == 4 and "float32, not bool" in reason and "#12116" in reason
    # and that mask really is not padding: stock output differs from the bool mask's
    bool_inputs = _inputs(transformer)
    assert (run(transformer, bool_inputs) - out).abs().max().item() > 1e-4


def test_left_padding_runs_stock_counted(transformer):
    inputs = _inputs(transformer)
    inputs["attention_mask"][1, :TEXT_LEN] = torch.tensor([False, False, False, True, True, True])
    with pytest.warns(UserWarning, match="right-padded text only"):
        out, totals = _run_patched(transformer, inputs, [3, 3])
    assert (out - run(transformer, inputs)).abs().max().item() == 0
    assert sum(totals.values()) == 4 and all("right-padded text only" in k for k in totals)


def test_preset_pipeline_hands_the_transformer_a_bool_mask_and_diffusers_a_float_one():
    seen = {}
    for bool_mask in (True, False):
        pipe = tiny.tiny_chroma_pipeline(bool_mask=bool_mask)
        hook = pipe.transformer.register_forward_pre_hook(
            lambda m, a, k: seen.__setitem__(bool_mask, k["attention_mask"].dtype), with_kwargs=True)
        pipe(**tiny.tiny_chroma_call(steps=1, height=64, width=64, output_type="latent"))
        hook.remove()
        assert type(pipe).__name__ == "ChromaPipeline"
    assert seen == {True: torch.bool, False: torch.float32}
