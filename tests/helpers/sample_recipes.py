"""Small recipes and windows shared by the recipe and window tests."""

from __future__ import annotations

from na_accel.windows import WindowSpec


def base_recipe(**overrides):
    """A small valid flux recipe; keyword arguments replace top-level keys."""
    data = {
        "model": "flux",
        "dense_steps": 0,
        "default": {"kernel_size": [80, 80], "stride": [16, 16], "dilation": [1, 1]},
        "layers": [
            {"match": "transformer_blocks.0.attn", "dense": True},
            {"match": "single_transformer_blocks.*", "kernel_size": [64, 64]},
        ],
    }
    data.update(overrides)
    return data


def default_only(**window_keys):
    """A recipe whose default is ``window_keys`` and which has no layers."""
    return base_recipe(default=window_keys, layers=[])


def one_rule(rule, default=None):
    """A recipe with a single rule ``rule`` (and the base default unless given)."""
    data = base_recipe(layers=[rule])
    if default is not None:
        data["default"] = default
    return data


def without(key):
    """The base recipe without its top-level ``key``."""
    data = base_recipe()
    del data[key]
    return data


def window(kernel, stride=(1, 1), dilation=(1, 1), causal=(False, False)):
    return WindowSpec(
        kernel_size=tuple(kernel),
        stride=tuple(stride),
        dilation=tuple(dilation),
        is_causal=tuple(causal),
    )


def assert_natten_legal(resolved):
    """NATTEN runs the window: 2 <= kernel <= n, kernel * dilation <= n, 1 <= stride <= kernel."""
    for n, k, s, d in zip(resolved.grid, resolved.kernel_size, resolved.stride, resolved.dilation):
        if n == 1:
            continue
        assert 2 <= k <= n and k * d <= n and 1 <= s <= k, resolved


def window_recipe(kernel_size, stride=1, dilation=1, **extra):
    return {
        "model": "flux",
        "default": {"kernel_size": kernel_size, "stride": stride, "dilation": dilation},
        **extra,
    }
