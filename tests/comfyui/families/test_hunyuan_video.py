"""HunyuanVideo in ComfyUI (na_accel/comfyui/families/hunyuan_video.py): what the family contract
(test_families.py) can't see.

* token order: a small window's output equals attention under a mask built here by hand over
  [video (row-major T, H, W), text] (the contract's reference backend reads the family's own
  layout, so a wrong order would pass it), and over [reference, video, text] with ``ref_latent``;
* the image-to-video variants ComfyUI loads into the class (channel concat, v2 "replace",
  SkyReels-V1, "custom" ``ref_latent``): full window == stock, every call counted;
* a text padding mask (not in the standard conditioning): its calls run stock, counted, the
  others GNA; stock ComfyUI can't run two masked rows in one batch;
* HunyuanImage 2.1 and its refiner share the class and are refused at patch time.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from comfyui.cases.base import ComfyCase, sample, sample_counted
from comfyui.cases.hunyuan_video import HUNYUAN_VIDEO, TEXT_TOKENS, UNET, build, conditioning
from na_accel.comfyui import patch_model, patch_of
from na_accel.comfyui.attention import OVERRIDE_KEY
from na_accel.errors import UnsupportedModelError

FULL, SPARSE = 255, 3
STEPS = 2
LAYERS = UNET["depth"] + UNET["depth_single_blocks"]
MASKED = "dense: an attention_mask was passed that the GNA path can't honour"


def _recipe(kernel: int) -> dict:
    return {"model": "hunyuan_video", "name": f"test_{kernel}", "speed_gate": "sparse",
            "default": {"kernel_size": [kernel] * 3}}


@pytest.fixture(scope="module")
def models(comfy):
    built: dict = {}

    def model(name: str, config: str = "HunyuanVideo", **unet):
        if name not in built:
            built[name] = build(comfy, config, **unet)
        return built[name]

    yield model
    built.clear()


def _case(name: str, **options) -> ComfyCase:
    """HUNYUAN_VIDEO's latent and grid, with ``options`` set on the positive conditioning only
    (as HunyuanImageToVideo sets them)."""
    def cond(generator, batch):
        positive, negative = conditioning(generator, batch)
        positive[0][1].update(options)
        return positive, negative

    return ComfyCase(name, "hunyuan_video", build, HUNYUAN_VIDEO.latent, HUNYUAN_VIDEO.grid, cond)


def _run(comfy, model, case, kernel=None, backend="reference"):
    """(sampled latent, totals of what ran, the diffusion model's forward calls)."""
    out, totals, forwards, _ = sample_counted(comfy, model, case, _recipe(kernel) if kernel is not None else None,
                                              backend, steps=STEPS)
    return out, totals, forwards


# --------------------------------------------------------------------------------------------
# token order, against a mask built by hand
# --------------------------------------------------------------------------------------------


def _neighborhood(index: tuple[int, ...], grid: tuple[int, ...], kernel: int) -> set[tuple[int, ...]]:
    """The cells a query at ``index`` sees: per axis ``kernel`` cells (fewer on an axis shorter than
    it) centred on it, shifted inward at the borders (neighborhood attention, stride 1)."""
    ranges = []
    for i, n in zip(index, grid):
        k = min(kernel, n)
        start = min(max(i - k // 2, 0), n - k)
        ranges.append(range(start, start + k))
    return set(itertools.product(*ranges))


def _hand_mask(grids: list[tuple[int, ...]], text_len: int, kernel: int) -> torch.Tensor:
    """(S, S) bool: the grids' tokens in order (each row-major), then the text. A grid's token sees
    its neighborhood in its own grid, every token of the other grids and every text token (the
    multi-grid rule, kernels/multi_grid.py); a text token sees every token."""
    visual = sum(math.prod(g) for g in grids)
    mask = torch.ones(visual + text_len, visual + text_len, dtype=torch.bool)
    offset = 0
    for grid in grids:
        cells = list(itertools.product(*map(range, grid)))
        own = slice(offset, offset + len(cells))
        mask[own, own] = False
        for n, cell in enumerate(cells):
            for seen in _neighborhood(cell, grid, kernel):
                mask[offset + n, offset + cells.index(seen)] = True
        offset += len(cells)
    return mask


def _capture_block_calls(model, tokens: int) -> list:
    """Records (q, k, v, output) of every attention call over ``tokens`` tokens (the blocks' self
    attention; the token refiner's are text only), around the patched model's override."""
    options = model.model_options["transformer_options"]
    override, calls = options[OVERRIDE_KEY], []

    def capture(func, *args, **kwargs):
        out = override(func, *args, **kwargs)
        q, k, v = args[:3]
        if q.shape[2] == tokens:
            calls.append((q, k, v, out))
        return out

    options[OVERRIDE_KEY] = capture
    return calls


@pytest.mark.parametrize("with_reference", [False, True], ids=["video-text", "reference-video-text"])
def test_token_order_against_a_hand_built_mask(comfy, models, with_reference):
    grids = [HUNYUAN_VIDEO.grid]
    case = HUNYUAN_VIDEO
    if with_reference:  # a 1-frame 10x12 reference latent: a 1x5x6 grid, its tokens first
        grids.insert(0, (1, 5, 6))
        case = _case("ref", ref_latent=torch.randn(1, 16, 1, 10, 12, generator=torch.Generator().manual_seed(1)))
    tokens = sum(math.prod(g) for g in grids) + TEXT_TOKENS
    model = patch_model(models("t2v"), _recipe(SPARSE), backend="reference")
    calls = _capture_block_calls(model, tokens)
    sample(comfy, model, case, steps=1)
    assert len(calls) == LAYERS  # the positive's call (with a reference the two halves run apart)
    mask = _hand_mask(grids, TEXT_TOKENS, SPARSE)
    assert not mask.all()
    for q, k, v, out in calls:  # [B, heads, S, D]; the output [B, S, heads * D]
        expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        expected = expected.transpose(1, 2).flatten(2)
        assert (out - expected).abs().max().item() <= 1e-5 * max(1.0, expected.abs().max().item())


# --------------------------------------------------------------------------------------------
# the variants the class runs
# --------------------------------------------------------------------------------------------

GENERATOR = torch.Generator().manual_seed(2)
START_IMAGE = torch.randn(1, 16, 1, 10, 14, generator=GENERATOR)  # a 1-frame latent, what vae.encode gives
FIRST_FRAME_KNOWN = torch.ones(1, 1, 3, 10, 14)
FIRST_FRAME_KNOWN[:, :, :1] = 0.0

VARIANTS = {  # name: (supported_models config, unet config changes, positive conditioning options, reference grids)
    "i2v-concat": ("HunyuanVideoI2V", {"in_channels": 33},
                   {"concat_latent_image": START_IMAGE, "concat_mask": FIRST_FRAME_KNOWN}, ()),
    "skyreels-i2v": ("HunyuanVideoSkyreelsI2V", {"in_channels": 32}, {"concat_latent_image": START_IMAGE}, ()),
    "i2v-replace": ("HunyuanVideo", {}, {"guiding_frame_index": 0}, ()),
    "i2v-custom": ("HunyuanVideo", {}, {"ref_latent": START_IMAGE}, ((1, 5, 7),)),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_full_window_is_stock_and_windows_see_their_grids(comfy, models, variant):
    config, unet, options, reference_grids = VARIANTS[variant]
    model = models(config if unet else "t2v", config, **unet)
    case = _case(variant, **options)
    stock, _, _ = _run(comfy, model, case)
    out, totals, forwards = _run(comfy, model, case, FULL)
    assert (out - stock).abs().max().item() <= 2e-5 * max(1.0, stock.abs().max().item())
    assert forwards > 0 and totals == {"full window": forwards * LAYERS}

    patched = patch_model(model, _recipe(SPARSE), backend="reference")
    patch, grids = patch_of(patched), set()

    def observe(route, sparse):
        grids.add(tuple(window.grid for window in sparse.call.windows))
        return sparse

    patch.routing.observer = observe
    sample(comfy, patched, case, steps=1)
    assert set(patch.totals()) == {"sparse"}
    # the positive's grids, and the negative's (ComfyUI runs them apart when only one has ref_latent)
    assert grids == {(*reference_grids, HUNYUAN_VIDEO.grid), (HUNYUAN_VIDEO.grid,)}


# --------------------------------------------------------------------------------------------
# text padding masks
# --------------------------------------------------------------------------------------------

PADDED = torch.tensor([[1, 1, 1, 1, 0, 0]])  # what the text encoder's mask is: 1 valid, 0 padding


@pytest.mark.parametrize("kernel", [FULL, SPARSE])
def test_a_padded_text_mask_runs_stock_counted(comfy, models, kernel):
    """Not in the standard conditioning, but a conditioning may carry one: ComfyUI then runs the
    masked positive apart from the negative (batch 1 each); the masked calls run stock."""
    model = models("t2v")
    case = _case("padded", attention_mask=PADDED)
    stock, _, _ = _run(comfy, model, case)
    with pytest.warns(UserWarning, match="ran dense attention: an attention_mask was passed"):
        out, totals, forwards = _run(comfy, model, case, kernel)
    assert forwards == 2 * STEPS
    ran = "full window" if kernel == FULL else "sparse"
    assert totals == {ran: STEPS * LAYERS, MASKED: STEPS * LAYERS}
    if kernel == FULL:
        assert (out - stock).abs().max().item() <= 2e-5 * max(1.0, stock.abs().max().item())


def test_stock_comfyui_cannot_batch_two_masked_rows(comfy, models):
    """Why no batch of rows with different text lengths is tested here: ComfyUI's HunyuanVideo
    writes the (batch, text) mask into a one-row (1, 1, tokens) attention mask, which fails for two
    rows. If this starts passing (a new ComfyUI pin), masks reach attention batched: honour them."""
    model = models("t2v")

    def padded(generator, batch):
        positive, negative = conditioning(generator, batch)
        positive[0][1]["attention_mask"] = PADDED
        negative[0][1]["attention_mask"] = torch.tensor([[1, 1, 1, 0, 0, 0]])
        return positive, negative

    with pytest.raises(RuntimeError, match="must match the existing size"):
        sample(comfy, model, ComfyCase("two-masked", "hunyuan_video", build, HUNYUAN_VIDEO.latent,
                                       HUNYUAN_VIDEO.grid, padded), steps=1)


# --------------------------------------------------------------------------------------------
# other models in the class
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, unet", [
    ("HunyuanImage21", dict(vec_in_dim=None, patch_size=[1, 1], axes_dim=[16, 16], in_channels=64, out_channels=64)),
    ("HunyuanImage21Refiner", dict(vec_in_dim=None, patch_size=[1, 1, 1], in_channels=128, out_channels=64,
                                   meanflow=True)),
], ids=["hunyuan_image_2.1", "hunyuan_image_2.1-refiner"])
def test_hunyuan_image_in_the_same_class_is_refused(comfy, models, config, unet):
    model = models(config, config, **unet)
    assert type(model.model.diffusion_model) is type(models("t2v").model.diffusion_model)
    with pytest.raises(UnsupportedModelError, match="not supported"):
        patch_model(model, _recipe(SPARSE), backend="reference")
