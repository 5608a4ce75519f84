"""tiny-flux-shapes, the trained preset: its pictures show what the prompt asks (read back from the
pixels, an independent check), and tuning it with a looser budget gives sparser windows."""

import pytest
import torch

import na_accel
from na_accel.tiny import TINY_PIPELINES, tiny_flux_shapes_call, tiny_pipeline
from na_accel.tiny.shapes import MODEL_DIR, PROMPTS_FILE
from na_accel.tiny.shapes.scenes import prompt_scene, read_picture
from na_accel.models.model_list import MODELS, model_default_prompt, model_prompts

# same seed; the colour, the shape and the position each change
CASES = [
    ("a red circle at the top left", "red", "top left"),
    ("a blue square at the bottom right", "blue", "bottom right"),
    ("a yellow triangle in the center", "yellow", "center"),
    ("a green circle on the right", "green", "right"),
]


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline("tiny-flux-shapes")


def draw(pipe, prompt, seed=0, **overrides):
    return pipe(**tiny_flux_shapes_call(prompt=prompt, seed=seed, **overrides)).images[0]


@pytest.mark.slow
def test_the_picture_shows_the_colour_and_position_the_prompt_asks_for(pipe):
    for prompt, colour, position in CASES:
        assert read_picture(draw(pipe, prompt)) == (colour, position), prompt


def test_the_preset_is_the_shipped_folder_loaded_in_float32(pipe):
    assert type(pipe).__name__ == "FluxPipeline" and pipe.vae_scale_factor == 2
    assert {p.dtype for p in pipe.transformer.parameters()} == {torch.float32}
    assert (MODEL_DIR / "training.json").is_file() and (MODEL_DIR / "model_index.json").is_file()
    assert TINY_PIPELINES["tiny-flux-shapes"][1]()["prompt"] == model_default_prompt("tiny-flux-shapes")
    assert MODELS["tiny-flux-shapes"].geometry.pixels_per_token == 4


def test_compare_and_tune_take_the_shapes_prompts_on_it():
    prompts = model_prompts("tiny-flux-shapes")
    assert prompts == [line for line in PROMPTS_FILE.read_text().splitlines() if line and not line.startswith("#")]
    assert all(None not in prompt_scene(prompt) for prompt in prompts)  # each names a colour, shape, position
    assert model_prompts("tiny-flux") != prompts and model_default_prompt("tiny-flux") != prompts[0]


@pytest.mark.slow
def test_a_looser_budget_tunes_sparser_windows(pipe):
    """As the error budget grows, tune picks smaller (cheaper) windows on the learned attention. The
    errors are measured once (they don't depend on the budget); each budget selects from them."""
    from na_accel.tuning.selection import select

    result = na_accel.tune(pipe, "flux_gna", max_error=0.05, prompts=[CASES[0][0]], steps=4, progress=False)
    steps = result.selection.steps
    assert select(result.layers, steps, 0.05) == result.selection  # what tune chose is this selection
    costs = []
    for budget in (0.05, 0.2, 0.5):
        selection = select(result.layers, steps, budget)
        sparse = [choice for choice in selection.layers if choice.candidate is not None]
        costs.append(sum(choice.cost for choice in selection.layers) / len(selection.layers))
        assert all(choice.error <= budget for choice in sparse)
    assert costs[0] > costs[1] > costs[2], costs
