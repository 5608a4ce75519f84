"""BackendChoice: the device a model computes on (offloading keeps the weights elsewhere), and backends probed once."""

from __future__ import annotations

import torch
from accelerate.hooks import AlignDevicesHook, SequentialHook, add_hook_to_module
from diffusers.hooks import apply_group_offloading

from na_accel import tiny
from na_accel.runtime.backend_choice import execution_device


def test_a_model_without_offloading_computes_where_its_weights_are():
    assert execution_device(tiny.tiny_flux_transformer(seed=0)) == torch.device("cpu")


def test_group_offloading_computes_on_its_onload_device():
    model = tiny.tiny_flux_transformer(seed=0)
    # the onload device is only used in forward: no GPU is needed to set it up
    apply_group_offloading(model, onload_device=torch.device("cuda"), offload_device=torch.device("cpu"),
                           offload_type="block_level", num_blocks_per_group=1)
    assert next(model.parameters()).device == torch.device("cpu")
    assert execution_device(model) == torch.device("cuda")


def test_accelerate_hooks_chained_in_a_sequential_hook_give_their_execution_device():
    model = tiny.tiny_flux_transformer(seed=0)
    hook = SequentialHook(AlignDevicesHook(execution_device="meta"))
    add_hook_to_module(model.proj_out, hook)
    assert execution_device(model) == torch.device("meta")


def test_patching_probes_every_backend_once(monkeypatch):
    """A probe may allocate on the device: the choice and the report's passed-over list share one."""
    from collections import Counter

    from na_accel.kernels import BACKENDS, BackendTarget
    from na_accel.runtime import BackendChoice

    probes = Counter()

    def prober(name):
        def unavailable_reason(target):
            probes[name] += 1
            return None if name == "triton" else f"{name} is switched off in this test"
        return unavailable_reason

    for name, backend in BACKENDS.items():
        monkeypatch.setattr(backend, "unavailable_reason", prober(name))
    choice = BackendChoice("auto", BackendTarget(torch.device("cuda"), torch.bfloat16, 128, 2))
    assert choice.backend.name == "triton"
    assert choice.passed_over == {"blackwell-fna": "blackwell-fna is switched off in this test",
                                  "hopper-fna": "hopper-fna is switched off in this test"}
    assert probes and max(probes.values()) == 1
