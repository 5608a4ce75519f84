"""pipeline_parts: a pipeline's denoisers and what a call generated, classic or modular."""

from types import SimpleNamespace

import pytest
import torch

from na_accel.pipeline_parts import generated, is_modular, latent_output, pipeline_transformers


class Pipeline:
    def __init__(self, **components):
        self.components = components


def test_the_denoisers_are_the_transformer_components_transformer_first():
    first, second, ref, other = (torch.nn.Linear(1, 1) for _ in range(4))
    pipe = Pipeline(vae=other, transformer_2=second, unconditional_transformer=ref, transformer=first,
                    text_encoder=torch.nn.Linear(1, 1), transformers_config=torch.nn.Linear(1, 1))
    assert pipeline_transformers(pipe) == [("transformer", first), ("transformer_2", second),
                                           ("unconditional_transformer", ref)]


def test_a_shared_module_is_listed_once_and_none_or_non_modules_are_skipped():
    shared = torch.nn.Linear(1, 1)
    pipe = Pipeline(transformer=shared, transformer_2=shared, transformer_ref=None, transformer_config={"a": 1})
    assert pipeline_transformers(pipe) == [("transformer", shared)]
    assert pipeline_transformers(SimpleNamespace(components=[shared])) == []


def test_a_compiled_component_is_unwrapped():
    model = torch.nn.Linear(1, 1)
    assert pipeline_transformers(Pipeline(transformer=torch.compile(model))) == [("transformer", model)]


def test_generated_reads_classic_outputs_and_modular_states():
    images, frames = torch.zeros(1), torch.ones(1)
    assert generated(SimpleNamespace(images=images)) is images
    assert generated(SimpleNamespace(frames=frames)) is frames
    assert generated(SimpleNamespace(values={"latents": images, "videos": frames})) is frames  # a PipelineState
    assert generated({"images": images}) is images
    assert generated(images) is images  # a modular call given output="latents"
    with pytest.raises(ValueError, match=r"holds none of videos, images, frames, audios, latents: \['prompt'\]"):
        generated({"prompt": "a red fox"})


def test_modular_pipelines_are_told_apart_by_their_diffusers_base_class():
    from diffusers.modular_pipelines import ModularPipeline

    Modular = type("FluxModularPipeline", (ModularPipeline,), {})
    assert is_modular(Modular.__new__(Modular)) and not is_modular(Pipeline())
    NotDiffusers = type("ModularPipeline", (), {})
    assert not is_modular(NotDiffusers())
    assert latent_output(Modular.__new__(Modular)) == {"output": "latents"}
    assert latent_output(Pipeline()) == {"output_type": "latent"}
