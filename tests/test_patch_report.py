"""describe's text: the window that ran leads, the recipe's nominal window comes second."""

import na_accel
from na_accel.patching import patches_of
from na_accel.windows import WindowSpec

from helpers.flux_runs import run_flux_pipe


def _window_text(window) -> str:
    """'window AxB stride CxD dilation ExF', built from the window's own numbers."""
    return WindowSpec(window.kernel_size, window.stride, window.dilation, window.is_causal).describe()


def _header_and_layer_blocks(text: str, layer_names):
    """The lines before the first layer, and each layer's lines (its name line and the indented ones after)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().split(" ")[0] in layer_names]
    blocks = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        blocks[lines[start].split()[0]] = lines[start:end]
    return lines[: starts[0]], blocks


def test_a_patched_run_leads_with_the_window_that_ran(flux_pipe):
    """flux_gna's nominal 80x80 window is scaled and snapped at a 16x16 grid: describe says what ran first."""
    recipe = na_accel.load_recipe("flux_gna")
    nominal = recipe.default.describe()
    na_accel.patch(flux_pipe, recipe)
    run_flux_pipe(flux_pipe, height=256, width=256, steps=1, batch=1, cfg=False)
    routes = patches_of(flux_pipe)[0].routes
    ran = {name: _window_text(route.windows.last.window) for name, route in routes.items()}
    grid = "x".join(str(n) for n in next(iter(routes.values())).windows.last.window.grid)
    assert nominal not in ran.values()  # the run resolved another window than the recipe's

    report = na_accel.describe(flux_pipe)
    transformer = report.transformers[0]
    assert {layer.name: layer.ran_window for layer in transformer.layers} == {
        name: f"{window} at grid {grid}" for name, window in ran.items()
    }
    assert all(layer.recipe_window == nominal for layer in transformer.layers)

    header, blocks = _header_and_layer_blocks(str(report), set(ran))
    header_text = "\n".join(header)
    for window in set(ran.values()):
        assert f"{window} at grid {grid}" in header_text
        assert header_text.index(window) < header_text.index(nominal)
    for name, block in blocks.items():
        assert ran[name] in block[0] and nominal not in block[0]  # the layer's first line: what ran
        assert any(nominal in line for line in block[1:])  # the recipe's window: after it


def test_before_any_call_the_recipe_window_is_all_there_is(flux_pipe):
    recipe = na_accel.load_recipe("flux_gna")
    nominal = recipe.default.describe()
    report = na_accel.describe(flux_pipe, recipe)  # dry run: nothing ran
    layers = report.transformers[0].layers
    assert all(layer.ran_window is None and layer.recipe_window == nominal for layer in layers)
    header, blocks = _header_and_layer_blocks(str(report), {layer.name for layer in layers})
    assert "nothing has run yet" in "\n".join(header)
    assert all(nominal in block[0] for block in blocks.values())
    assert report.transformers[0].backends_used == {} and "backends used" not in str(report)  # none ran yet
