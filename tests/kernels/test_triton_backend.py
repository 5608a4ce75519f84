"""The ``triton`` backend against the explicit-mask reference.

On CPU the kernel runs under Triton's interpreter (conftest sets TRITON_INTERPRET=1), on a GPU
compiled; fresh random inputs, odd grids, borders, stride, dilation, causal axes, 1-D/2-D/3-D,
text first and last, padded text of different valid lengths in a batch of 2, two heads.
"""

from __future__ import annotations

import math

import pytest
import torch

import na_accel
from na_accel import tiny
from na_accel.tiny import tiny_flux_prompt
from na_accel.kernels.joint import gna_joint_attention, sdpa_attention
from na_accel.kernels import BackendTarget, GNACall, backend_reasons
from na_accel.kernels.triton_op import triton_visual_attention
from na_accel.kernels.triton_tiles import choose_tiles, count_tiles
from na_accel.windows import WindowSpec

from helpers.sample_recipes import window_recipe

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# grid, kernel, stride, dilation, causal, text tokens, text first, valid text lengths (batch 2)
CASES = [
    ((5, 7), (3, 4), (2, 3), (1, 1), (False, False), 6, True, (6, 6)),  # odd grid, borders, stride
    ((9, 6), (4, 3), (1, 2), (2, 1), (True, False), 5, False, (5, 2)),  # dilation, causal axis, padding
    ((11,), (5,), (2,), (2,), (False,), 3, True, (3, 0)),  # 1-D; one row with no valid text
    ((4, 5, 6), (2, 3, 4), (1, 2, 2), (1, 1, 1), (False, True, False), 7, False, (4, 7)),  # 3-D
    ((3, 6, 5), (3, 3, 2), (3, 1, 1), (1, 2, 2), (True, False, False), 0, True, None),  # no text
    ((1, 6, 7), (1, 4, 3), (1, 2, 3), (1, 1, 2), (False, False, True), 4, True, (1, 4)),  # one frame
]
IDS = ["odd-2d", "dilation-causal", "1d", "3d", "3d-no-text", "one-frame"]


def _inputs(grid, text_len, dtype, head_dim=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (2, math.prod(grid) + text_len, 2, head_dim)
    return [torch.randn(shape, generator=generator).to(DEVICE, dtype) for _ in range(3)]


def _joint(q, k, v, window, text_len, text_first, lens, backend, **options):
    call = GNACall(window, text_len, text_first, lens)
    return gna_joint_attention(q, k, v, call, backend=backend, attention_mask=_key_mask(q, call), **options)


def _key_mask(q, call):
    """The model's own key mask for the text rows (what HunyuanVideo hands its dense attention)."""
    if call.text_valid_lens is None:
        return None
    text = call.text_slice
    keep = torch.ones(q.shape[0], q.shape[1], dtype=torch.bool, device=q.device)
    for row, n in enumerate(call.text_valid_lens):
        keep[row, text.start + n:text.stop] = False
    return keep[:, None, None, :]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_matches_reference(case, dtype):
    grid, kernel, stride, dilation, causal, text_len, text_first, lens = case
    window = WindowSpec(kernel, stride, dilation, causal).resolve(grid)
    q, k, v = _inputs(grid, text_len, dtype, seed=len(grid) + text_len)
    out = _joint(q, k, v, window, text_len, text_first, lens, "triton")
    # The judge runs in float32 on the same (rounded) inputs.
    ref = _joint(q.float(), k.float(), v.float(), window, text_len, text_first, lens, "reference")
    n_visual = math.prod(grid)
    visual = slice(text_len, None) if text_first else slice(0, n_visual)
    error = (out[:, visual].float() - ref[:, visual]).abs().max().item()
    if dtype == torch.float32:
        assert error <= 1e-5
    else:
        assert error / ref[:, visual].abs().max().item() <= 1e-2
    assert not out.isnan().any()
    if text_len:  # text rows are the dense attention's, written into the kernel's output
        text = slice(0, text_len) if text_first else slice(n_visual, None)
        assert (out[:, text].float() - ref[:, text]).abs().max().item() <= (1e-5 if dtype == torch.float32 else 2e-2)


def test_padded_text_is_never_a_key():
    grid, text_len = (6, 5), 6
    window = WindowSpec((3, 3), (2, 1), (1, 1), (False, False)).resolve(grid)
    q, k, v = _inputs(grid, text_len, torch.float32, seed=3)
    lens = (6, 2)
    out = _joint(q, k, v, window, text_len, True, lens, "triton")
    k2, v2 = k.clone(), v.clone()
    k2[1, 2:text_len] += 7.0  # row 1's padding
    v2[1, 2:text_len] -= 3.0
    changed = _joint(q, k2, v2, window, text_len, True, lens, "triton")
    assert (out[:, text_len:] - changed[:, text_len:]).abs().max().item() == 0.0
    k2[0, 4] += 7.0  # row 0's text is all valid: a change there is seen
    assert (_joint(q, k2, v2, window, text_len, True, lens, "triton")[0, text_len:] - out[0, text_len:]).abs().max() > 1e-3


def test_head_dim_not_a_power_of_two():
    grid = (5, 6)
    window = WindowSpec((3, 4), (1, 2), (1, 1), (False, False)).resolve(grid)
    q, k, v = _inputs(grid, 3, torch.float32, head_dim=24, seed=4)
    out = _joint(q, k, v, window, 3, False, None, "triton")
    ref = _joint(q, k, v, window, 3, False, None, "reference")
    assert (out - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize("masked", [False, True])
def test_block_sparse_window_needs_no_mask(masked):
    """A window whose windows start on kv tiles and whose stride is the q tile: no key tile is
    partly covered, so the kernel compiles without masking and still equals the reference."""
    grid, text_len = (16, 32), 4
    window = WindowSpec((8, 16), (8, 16), (1, 1), (False, False)).resolve(grid)
    tiles = count_tiles((1,) + grid, (1, 8, 16), (1, 8, 16), (1, 1, 1), (False,) * 3, (1, 8, 16), (1, 8, 16))
    assert tiles.partial == 0
    if masked:  # the same tiles with masking compiled in must give the same result
        tiles = type(tiles)(tiles.q_tile, tiles.kv_tile, tiles.visited, 1, tiles.q_tiles)
    q, k, v = _inputs(grid, text_len, torch.float32, seed=5)
    out = triton_visual_attention(q, k, v, grid=grid, kernel_size=(8, 16), stride=(8, 16), dilation=(1, 1),
                                  is_causal=(False, False), text_len=text_len, text_first=True, tiles=tiles)
    ref = gna_joint_attention(q, k, v, GNACall(window, text_len), backend="reference")
    assert (out[:, text_len:] - ref[:, text_len:]).abs().max().item() <= 1e-5


@pytest.mark.parametrize("geometry", [
    ((1, 256, 256), (1, 80, 80), (1, 16, 16), (1, 1, 1), (False,) * 3, 512),
    ((30, 48, 80), (18, 24, 24), (16, 8, 8), (1, 1, 1), (False,) * 3, 256),
])
def test_published_windows_get_block_sparse_tiles(geometry):
    """FLUX 4K and HunyuanVideo's published windows are perfectly block-sparse for the chosen tiles."""
    tiles = choose_tiles(*geometry)
    assert tiles.partial == 0
    assert tiles.block_m >= 64 and tiles.block_n >= 64


@pytest.mark.parametrize("geometry", [
    ((1, 1, 5), (1, 1, 3), (1, 1, 1), (1, 1, 1), (False,) * 3, 0),
    ((3, 7, 2), (2, 3, 2), (1, 2, 1), (1, 2, 1), (True, False, False), 9),
])
def test_small_grids_get_legal_tiles(geometry):
    tiles = choose_tiles(*geometry)
    for block in (tiles.block_m, tiles.block_n):
        assert block >= 16 and block & (block - 1) == 0


def test_reasons(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # CPU targets are then judged on dtype / head_dim
    target = BackendTarget(torch.device("cpu"), torch.float64, head_dim=16, grid_rank=2)
    assert "float64" in backend_reasons(target)["triton"]
    target = BackendTarget(torch.device("cpu"), torch.float32, head_dim=512, grid_rank=2)
    assert "head_dim 512" in backend_reasons(target)["triton"]


def test_not_on_cpu_without_the_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    target = BackendTarget(torch.device("cpu"), torch.float32, head_dim=16, grid_rank=2)
    assert "CUDA" in backend_reasons(target)["triton"]


def test_forward_only():
    grid = (4, 4)
    window = WindowSpec((2, 2), (1, 1), (1, 1), (False, False)).resolve(grid)
    q, k, v = (t.requires_grad_() for t in _inputs(grid, 0, torch.float32))
    with pytest.raises(NotImplementedError, match="forward-only"):
        _joint(q, k, v, window, 0, True, None, "triton")


def _generate(pipe):
    """Tiny FLUX generation on DEVICE: odd 5x7 token grid, batch 2, true CFG."""
    kwargs = {**tiny_flux_prompt(seed=1, batch=2).as_kwargs(),
              **tiny_flux_prompt(seed=2, batch=2).as_kwargs("negative_")}
    kwargs = {name: value.to(DEVICE) for name, value in kwargs.items()}
    return pipe(height=80, width=112, num_inference_steps=2, guidance_scale=3.5, true_cfg_scale=2.0,
                output_type="pt", generator=torch.Generator().manual_seed(0), **kwargs).images


@pytest.mark.slow
def test_flux_pipeline_equals_reference(flux_pipe):
    """Tiny FLUX pipeline (batch 2, true CFG): triton generations equal the reference's."""
    flux_pipe.to(DEVICE)
    recipe = window_recipe([3, 4], stride=[2, 3])
    na_accel.patch(flux_pipe, recipe, backend="triton")
    sparse = _generate(flux_pipe)
    report = na_accel.describe(flux_pipe)
    na_accel.unpatch(flux_pipe)
    na_accel.patch(flux_pipe, recipe, backend="reference")
    reference = _generate(flux_pipe)
    assert report.transformers[0].totals == {"sparse": 16}
    assert list(report.transformers[0].backends_used.values()) == ["triton"]
    assert (sparse - reference).abs().max().item() <= 1e-5


def test_hunyuan_video_padded_text_equals_reference():
    """Tiny HunyuanVideo transformer, rows with different valid text lengths in one launch."""
    transformer = tiny.tiny_hunyuan_video_transformer(seed=0).to(DEVICE)
    inputs = tiny.hunyuan_video_transformer_inputs(transformer, (3, 4, 5), batch=2, text_len=7,
                                                   valid_text_lens=[7, 3], seed=8)
    inputs = {name: value.to(DEVICE) if isinstance(value, torch.Tensor) else value for name, value in inputs.items()}
    recipe = {"model": "hunyuan_video", "default": {"kernel_size": [2, 3, 3], "stride": [1, 2, 1],
                                                    "is_causal": [True, False, False]}}
    outputs = {}
    for backend in ("triton", "reference"):
        na_accel.patch(transformer, recipe, backend=backend)
        with torch.no_grad():
            outputs[backend] = transformer(**inputs).sample
        assert na_accel.describe(transformer).transformers[0].totals["sparse"] > 0
        na_accel.unpatch(transformer)
    assert (outputs["triton"] - outputs["reference"]).abs().max().item() <= 1e-5


def _no_dense_call(*args, **kwargs):
    raise AssertionError("the text rows ran a second, dense attention call")


@pytest.mark.parametrize("case", [c for c in CASES if c[5]], ids=[i for c, i in zip(CASES, IDS) if c[5]])
def test_text_rows_run_in_the_kernels_launch(case):
    """Text queries are the launch's first programs (dense over every valid key): no dense call,
    and the same result as the reference, padded rows included."""
    grid, kernel, stride, dilation, causal, text_len, text_first, lens = case
    window = WindowSpec(kernel, stride, dilation, causal).resolve(grid)
    q, k, v = _inputs(grid, text_len, torch.float32, seed=3)
    fused = _joint(q, k, v, window, text_len, text_first, lens, "triton", dense_attention=_no_dense_call)
    reference = _joint(q, k, v, window, text_len, text_first, lens, "reference")
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)


def test_reference_grids_keep_the_dense_text_call():
    own = WindowSpec((3, 3), (1, 1), (1, 1), (False, False)).resolve((4, 5))
    ref = WindowSpec((3, 3), (1, 1), (1, 1), (False, False)).resolve((3, 3))
    q, k, v = _inputs((29,), 4, torch.float32)  # 20 + 9 visual tokens, 4 text
    calls = []

    def dense(query, key, value, mask=None):
        calls.append(query.shape[1])
        return sdpa_attention(query, key, value, mask)

    gna_joint_attention(q, k, v, GNACall(own, text_len=4, extra_windows=(ref,)), backend="triton",
                        dense_attention=dense)
    assert calls == [4]
