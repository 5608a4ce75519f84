"""LoRA (diffusers' PEFT backend) on patched pipelines: GNA sees the LoRA-modified projections.

The LoRA files are written here with safetensors in diffusers' format
(``transformer.<attention module>.to_q.lora_A.weight`` / ``lora_B``), over every projection the GNA
processors recompute: to_q / to_k / to_v and, in joint attention, the text projections
add_q_proj / add_k_proj / add_v_proj; ``lora_B`` is nonzero, so each LoRA changes the output.
PEFT wraps those Linear layers in place (``attn.to_q`` becomes a ``peft`` LoRA layer); the GNA
processors call ``attn.to_q(...)`` as the stock ones do, so the LoRA runs wherever it is loaded:
before or after patching, fused or not.

The checks: with a full window (the GNA processor and backend run, covering the grid), patched +
LoRA equals stock + LoRA, which differs from stock; with a small window, the backend ``auto``
picks (flex-fna here) equals the explicit-mask ``reference`` backend, both with the LoRA; adapter
weights, fusing and unloading change a patched pipeline exactly as they change a stock one.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

import na_accel
from na_accel.tiny import TINY_PIPELINES, TINY_QWEN_TEXT_DIM, tiny_flux_prompt

PROJECTIONS = ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj")
FULL_ATOL = 1e-5  # full window vs stock: same math, another kernel (float32)
SPARSE_ATOL = 1e-4  # small window: flex-fna vs the explicit-mask reference (float32)
LORA_EFFECT = 1e-2  # a LoRA (or a change of its weight) moves the output by more than this

# preset -> (family, attention layers GNA patches); one denoising step = one transformer call
PRESETS = {"tiny-flux": ("flux", 4), "tiny-qwen-image": ("qwen_image", 2)}


def prompt_kwargs(preset):
    """Seeded random prompt embeddings (the text encoders are skipped: they'd cost most of the time)."""
    if preset == "tiny-flux":
        return {"prompt": None, **tiny_flux_prompt(seed=1).as_kwargs()}
    generator = torch.Generator().manual_seed(1)
    embeds = torch.randn(1, 8, TINY_QWEN_TEXT_DIM, generator=generator)
    return {"prompt": None, "prompt_embeds": embeds, "prompt_embeds_mask": torch.ones(1, 8, dtype=torch.long),
            "negative_prompt": None, "true_cfg_scale": 1.0}


def full_window(family):
    return {"model": family, "default": {"kernel_size": [999, 999]}}


def small_window(family):
    return {"model": family, "default": {"kernel_size": [3, 3]}}


def write_lora(path, transformer, seed, rank=2, scale=0.3):
    """A diffusers-format LoRA file over every attention projection GNA recomputes."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, module in transformer.named_modules():
        if not name.endswith("attn"):
            continue
        for projection in PROJECTIONS:
            linear = getattr(module, projection, None)
            if not isinstance(linear, torch.nn.Linear):
                continue
            prefix = f"transformer.{name}.{projection}"
            state[f"{prefix}.lora_A.weight"] = torch.randn(rank, linear.in_features, generator=generator) * scale
            state[f"{prefix}.lora_B.weight"] = torch.randn(linear.out_features, rank, generator=generator) * scale
    assert any(".add_q_proj." in key for key in state)  # the text projections are covered too
    save_file(state, str(path))
    return str(path)


class Run:
    """One tiny preset: its pipeline and a fixed one-step generation (latents out, 4x4 token grid)."""

    def __init__(self, preset, tmp_path):
        make, self._call = TINY_PIPELINES[preset]
        self.family, self.layers = PRESETS[preset]
        self._prompt = prompt_kwargs(preset)
        self.pipe = make(seed=0)
        self.lora_a = write_lora(tmp_path / "a.safetensors", self.pipe.transformer, seed=1)
        self.lora_b = write_lora(tmp_path / "b.safetensors", self.pipe.transformer, seed=2)

    def __call__(self):
        kwargs = self._call(steps=1, height=64, width=64, output_type="latent", **self._prompt)
        return self.pipe(**kwargs).images

    def load(self, which="a"):
        self.pipe.load_lora_weights(self.lora_a if which == "a" else self.lora_b, adapter_name=which)

    def totals(self):
        return dict(na_accel.describe(self.pipe).transformers[0].totals)


def assert_close(actual, expected, atol):
    error = (actual - expected).abs().max().item()
    assert error <= atol, f"max |difference| {error:.3g} > {atol:g}"


def assert_differs(actual, expected):
    change = (actual - expected).abs().max().item()
    assert change > LORA_EFFECT, f"max |difference| {change:.3g}: the LoRA changed nothing"


# both orders on FLUX; one each on Qwen-Image (the other order in the small-window test)
@pytest.mark.parametrize("preset, order", [
    ("tiny-flux", "lora_then_patch"), ("tiny-flux", "patch_then_lora"), ("tiny-qwen-image", "patch_then_lora"),
])
def test_full_window_with_lora_equals_stock_with_lora(preset, order, tmp_path):
    run = Run(preset, tmp_path)
    stock = run()
    run.load()
    stock_lora = run()
    assert_differs(stock_lora, stock)
    run.pipe.unload_lora_weights()

    if order == "lora_then_patch":
        run.load()
        na_accel.patch(run.pipe, full_window(run.family))
    else:
        na_accel.patch(run.pipe, full_window(run.family))
        run.load()
    assert_close(run(), stock_lora, FULL_ATOL)
    assert run.totals() == {"full window": run.layers}  # every call ran the GNA processor

    run.pipe.unload_lora_weights()
    assert_close(run(), stock, FULL_ATOL)
    na_accel.unpatch(run.pipe)
    assert_close(run(), stock, 0.0)


@pytest.mark.parametrize("preset, order", [
    ("tiny-flux", "lora_then_patch"), ("tiny-flux", "patch_then_lora"), ("tiny-qwen-image", "lora_then_patch"),
])
def test_small_window_with_lora_equals_reference_with_lora(preset, order, tmp_path):
    run = Run(preset, tmp_path)
    recipe = small_window(run.family)
    na_accel.patch(run.pipe, recipe, backend="reference")
    run.load()
    reference_lora = run()
    na_accel.unpatch(run.pipe)
    run.pipe.unload_lora_weights()

    if order == "lora_then_patch":
        run.load()
        na_accel.patch(run.pipe, recipe)
    else:
        na_accel.patch(run.pipe, recipe)
        run.load()
    assert na_accel.describe(run.pipe).transformers[0].backend == "flex-fna"
    sparse_lora = run()
    assert_close(sparse_lora, reference_lora, SPARSE_ATOL)
    assert run.totals() == {"sparse": run.layers}

    # after unloading, the same patched pipeline equals the reference without LoRA
    run.pipe.unload_lora_weights()
    sparse = run()
    assert_differs(sparse_lora, sparse)
    na_accel.unpatch(run.pipe)
    na_accel.patch(run.pipe, recipe, backend="reference")
    assert_close(sparse, run(), SPARSE_ATOL)


@pytest.mark.filterwarnings("ignore:Already found a `peft_config` attribute:UserWarning")  # a 2nd adapter
def test_set_adapters_and_disable_lora_act_as_on_stock(tmp_path):
    stock, patched = Run("tiny-flux", tmp_path), Run("tiny-flux", tmp_path)
    na_accel.patch(patched.pipe, full_window("flux"))
    for run in (stock, patched):
        run.load("a")
        run.load("b")
    outputs = {}
    for weights in ([1.0, 0.0], [0.5, 1.0]):
        for name, run in (("stock", stock), ("patched", patched)):
            run.pipe.set_adapters(["a", "b"], weights)
            outputs[name, tuple(weights)] = run()
        assert_close(outputs["patched", tuple(weights)], outputs["stock", tuple(weights)], FULL_ATOL)
    assert_differs(outputs["patched", (0.5, 1.0)], outputs["patched", (1.0, 0.0)])

    for run in (stock, patched):
        run.pipe.disable_lora()
    assert_close(patched(), stock(), FULL_ATOL)
    na_accel.unpatch(patched.pipe)
    assert_close(patched(), stock(), 0.0)


@pytest.mark.parametrize("order", ["fuse_then_patch", "patch_then_fuse"])
def test_fuse_and_unfuse_lora_on_a_patched_pipeline(order, tmp_path):
    stock, patched = Run("tiny-flux", tmp_path), Run("tiny-flux", tmp_path)
    for run in (stock, patched):
        run.load()
    unfused = stock()
    stock.pipe.fuse_lora(lora_scale=0.7)
    fused = stock()
    assert_differs(fused, unfused)
    stock.pipe.unfuse_lora()  # the LoRA layers stay active, at the scale fuse_lora set
    stock_after_unfuse = stock()

    if order == "fuse_then_patch":
        patched.pipe.fuse_lora(lora_scale=0.7)
        na_accel.patch(patched.pipe, full_window("flux"))
    else:
        na_accel.patch(patched.pipe, full_window("flux"))
        patched.pipe.fuse_lora(lora_scale=0.7)
    assert_close(patched(), fused, FULL_ATOL)
    patched.pipe.unfuse_lora()
    assert_close(patched(), stock_after_unfuse, FULL_ATOL)
    assert patched.totals() == {"full window": 2 * patched.layers}


def test_lora_loaded_into_a_patched_group_offloaded_pipeline(tmp_path):
    # diffusers removes and re-applies group offloading around the load; na_accel's hooks and
    # processors stay. (With enable_model_cpu_offload, diffusers 0.42.1 re-enables the offload
    # after a load without the device: "requires accelerator" on a CPU-only machine, stock alike.)
    stock, patched = Run("tiny-flux", tmp_path), Run("tiny-flux", tmp_path)
    stock.load()
    na_accel.patch(patched.pipe, full_window("flux"))
    patched.pipe.transformer.enable_group_offload(
        onload_device=torch.device("cpu"), offload_device=torch.device("cpu"), offload_type="leaf_level")
    patched.load()
    assert_close(patched(), stock(), FULL_ATOL)
    assert patched.totals() == {"full window": patched.layers}
