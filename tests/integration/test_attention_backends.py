"""diffusers' attention backends on a patched pipeline: text rows and dense fallbacks run on the user's.

``transformer.set_attention_backend(name)`` (before or after patching) and the
``attention_backend(name)`` context manager choose the dense attention of every layer. A GNA layer
keeps that choice for what it runs dense: the text query rows of a sparse call, and whole calls
that fall back to the stock processor (here the recipe's ``dense_steps``). The visual rows always
run GNA on na_accel's backend. A spy wrapped around the backend functions in diffusers' registry
shows which calls reached which backend; the CPU backends ``native`` and ``_native_math`` are
checked here (the others need a GPU or an extra package). The GNA backend is ``flex-fna``
(NATTEN on the CPU), which hands the text rows to the model's dense attention: the ``reference``
backend computes every row itself, from one explicit mask.
"""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_dispatch import AttentionBackendName, _AttentionBackendRegistry, attention_backend

import na_accel
from na_accel.patching import patches_of
from na_accel.tiny import TINY_PIPELINES

CPU_BACKENDS = ("native", "_native_math")
LAYERS = 4  # tiny FLUX: 2 dual-stream + 2 single-stream blocks
GRID_TOKENS = 8 * 8  # 128x128 pixels -> 16x16 latents -> 8x8 packed tokens
FULL_WINDOW = {"model": "flux", "dense_steps": 1, "default": {"kernel_size": [999, 999]}}
TOLERANCE = 1e-5  # GNA over a full window (NATTEN on the CPU) vs stock dense attention, float32


@pytest.fixture
def backend_calls(monkeypatch):
    """Query lengths of every call each CPU backend function ran, by backend name."""
    seen: dict[str, list[int]] = {name: [] for name in CPU_BACKENDS}
    for name in CPU_BACKENDS:
        original = _AttentionBackendRegistry._backends[AttentionBackendName(name)]

        def spy(*, _original=original, _seen=seen[name], **kwargs):
            _seen.append(kwargs["query"].shape[1])  # diffusers' layout: [batch, tokens, heads, head_dim]
            return _original(**kwargs)

        monkeypatch.setitem(_AttentionBackendRegistry._backends, AttentionBackendName(name), spy)
    # set_attention_backend also sets the process-wide active backend: restored after the test
    monkeypatch.setattr(_AttentionBackendRegistry, "_active_backend", _AttentionBackendRegistry._active_backend)
    return seen


@pytest.fixture(scope="module")
def pipe():
    make, _ = TINY_PIPELINES["tiny-flux"]
    pipe = make(seed=0)
    pipe.transformer.requires_grad_(False)
    return pipe


@pytest.fixture
def stock_pipe(pipe):
    """The module's pipeline, unpatched, with no backend set on its processors (also after the test)."""
    pipe.transformer.reset_attention_backend()
    yield pipe
    if patches_of(pipe):
        na_accel.unpatch(pipe)
    pipe.transformer.reset_attention_backend()


def _generate(pipe, backend_name=None):
    """Two steps of a 128x128 generation, in diffusers' ``attention_backend`` context if named."""
    _, call = TINY_PIPELINES["tiny-flux"]
    kwargs = call(steps=2, height=128, width=128, output_type="latent")
    if backend_name is None:
        return pipe(**kwargs).images
    with attention_backend(backend_name):
        return pipe(**kwargs).images


@pytest.fixture(scope="module")
def text_len(pipe) -> int:
    """Text tokens of the joint sequence: the T5 embeddings the pipeline passes to the transformer."""
    seen = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["encoder_hidden_states"].shape[1]), with_kwargs=True
    )
    try:
        _generate(pipe)
    finally:
        handle.remove()
    return seen[0]


@pytest.fixture(scope="module")
def stock_outputs(pipe):
    """Stock generation per backend name, run lazily once (the pipeline unpatched, the backend by context)."""
    outputs = {}

    def stock(name):
        if name not in outputs:
            outputs[name] = _generate(pipe, name)
        return outputs[name]

    return stock


def _clear(backend_calls):
    for seen in backend_calls.values():
        seen.clear()


@pytest.mark.parametrize("how", ["set before patch", "set after patch", "context manager"])
@pytest.mark.parametrize("name", CPU_BACKENDS)
def test_text_rows_and_dense_fallbacks_run_on_the_users_backend(
    stock_pipe, stock_outputs, text_len, backend_calls, how, name
):
    pipe, other = stock_pipe, next(n for n in CPU_BACKENDS if n != name)
    stock = stock_outputs(name)

    if how == "set before patch":
        pipe.transformer.set_attention_backend(name)
    na_accel.patch(pipe, FULL_WINDOW, backend="flex-fna")
    if how == "set after patch":
        pipe.transformer.set_attention_backend(name)
    context = name if how == "context manager" else None
    _clear(backend_calls)
    patched = _generate(pipe, context)

    # step 0 (dense_steps=1): every layer falls back to the stock processor: whole joint sequence;
    # step 1: GNA, whose text query rows alone go to the dense backend
    assert backend_calls[name] == [text_len + GRID_TOKENS] * LAYERS + [text_len] * LAYERS
    assert backend_calls[other] == []
    totals = na_accel.describe(pipe).transformers[0].totals
    assert totals == {"full window": LAYERS, "dense: dense step (step < dense_steps=1)": LAYERS}
    assert (patched - stock).abs().max().item() <= TOLERANCE

    na_accel.unpatch(pipe)
    if how != "context manager":  # the choice stays on the restored stock processors
        backend = AttentionBackendName(name)
        processors = [m.processor for m in pipe.transformer.modules() if hasattr(m, "processor")]
        assert len(processors) == LAYERS and all(p._attention_backend == backend for p in processors)
    _clear(backend_calls)
    assert torch.equal(_generate(pipe, context), stock)  # stock again, bit for bit
    assert backend_calls[name] == [text_len + GRID_TOKENS] * (2 * LAYERS) and backend_calls[other] == []
