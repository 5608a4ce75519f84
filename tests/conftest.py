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

from na_accel.tiny import tiny_flux_pipeline, tiny_flux_transformer  # noqa: E402


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
