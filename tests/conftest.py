import os
from pathlib import Path

import torch

# The Triton kernel runs on CPU tensors under Triton's interpreter; the flag must be set before
# the kernel is defined (na_accel imports it lazily). On a GPU machine the compiled kernel runs.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# The speed gate reads cost profiles from the user's cache and $NA_ACCEL_COST_PROFILE: the tests
# see only the shipped ones and those they write themselves.
import tempfile  # noqa: E402

os.environ["NA_ACCEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="na_accel-test-cache-")
os.environ.pop("NA_ACCEL_COST_PROFILE", None)

import pytest  # noqa: E402

# diffusers' logger binds its StreamHandler to the sys.stderr of its first use: imported here, that is
# the session's, not one test's capsys stream (closed after that test, a later notice of diffusers'
# -- "Guiders are currently an experimental feature" -- would fail to print in another test).
from diffusers.utils import logging as _diffusers_logging  # noqa: E402

_diffusers_logging.get_logger("diffusers")

from na_accel.tiny import (  # noqa: E402
    flux_transformer_inputs, tiny_flux_pipeline, tiny_flux_prompt, tiny_flux_transformer,
)


INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config, items):
    """Everything under tests/integration/ is marked ``integration`` (the fast subset leaves it out)."""
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def flux_pipe():
    return tiny_flux_pipeline(seed=0)


@pytest.fixture
def flux_transformer():
    return tiny_flux_transformer(seed=0)


def run_flux_pipe(pipe, *, height=80, width=112, steps=2, batch=2, cfg=True, seed=0):
    """Tiny FLUX generation: 80x112 pixels -> odd 5x7 token grid; batch and true CFG by default."""
    prompt = tiny_flux_prompt(seed=1, batch=batch)
    kwargs = dict(prompt.as_kwargs())
    if cfg:
        kwargs.update(tiny_flux_prompt(seed=2, batch=batch).as_kwargs("negative_"))
        kwargs["true_cfg_scale"] = 2.0
    return pipe(
        height=height,
        width=width,
        num_inference_steps=steps,
        guidance_scale=3.5,
        output_type="pt",
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    ).images


def run_flux_transformer(transformer, height, width, batch=2, text_len=8, seed=0):
    with torch.no_grad():
        return transformer(**flux_transformer_inputs(height, width, batch, text_len, seed)).sample


def window_recipe(kernel_size, stride=1, dilation=1, **extra):
    return {
        "model": "flux",
        "default": {"kernel_size": kernel_size, "stride": stride, "dilation": dilation},
        **extra,
    }
