"""The one list of model names bench, compare and ``na-accel models`` accept, and what each one is.

``MODELS`` holds the tiny presets (``na_accel.tiny.TINY_PIPELINES``) and, from the family registry,
one random-weights model per family (its ``FamilySpec``'s shipped config): a new family needs no
entry here. Light on purpose: no torch or diffusers until a model is built (``models.zoo`` loads
them), so the CLI's help and ``na-accel models`` start at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ArgumentError
from ..families.family_types import FamilyGeometry
from ..families.registry import FAMILY_SPECS, family_geometry, family_spec, supported_families
from ..inputs.prompts import DEFAULT_PROMPT, SHAPES_PROMPTS, SHIPPED_PROMPTS

if TYPE_CHECKING:
    from .loaded_models import PipelineModel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    description: str
    build_preset: Callable[[int], PipelineModel] | None = None  # tiny presets: seed -> model
    config_file: str | None = None  # random weights: the family's shipped config (na_accel/families/configs/)
    frames_per_token: int | None = None  # a tiny preset whose VAE compresses time differently
    single_frame: bool = False  # an image pipeline on a video family's transformer
    pixels_per_token: int | None = None  # a tiny preset whose VAE compresses space differently
    prompt_file: Path | None = None  # a trained model's own prompts (default: the shipped set)

    @property
    def geometry(self) -> FamilyGeometry:
        return family_geometry(self.family, frames_per_token=self.frames_per_token,
                               pixels_per_token=self.pixels_per_token)

    @property
    def unavailable(self) -> str | None:
        """Why a listed tiny preset can't be built in this build or with the installed diffusers (None
        when it can; imports the presets)."""
        preset = getattr(self.build_preset, "preset", None)
        if preset is None:
            return None
        from ..tiny import TINY_PIPELINES, unavailable_reason

        if preset not in TINY_PIPELINES:
            return f"na_accel.tiny.TINY_PIPELINES has no {preset!r} in this build"
        return unavailable_reason(preset)

    @property
    def kind(self) -> str:
        return "tiny preset" if self.config_file is None else "random-weights config"


def prompt_seed(prompt: str, seed: int) -> int:
    """A deterministic seed from the prompt text and the seed (tiny presets have no text encoders)."""
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _tiny_flux(seed: int) -> PipelineModel:
    from ..tiny import tiny_flux_call, tiny_flux_pipeline, tiny_flux_prompt
    from .loaded_models import PipelineModel

    pipe = tiny_flux_pipeline(seed=seed)

    def prompt_kwargs(prompt: str, seed: int, batch: int) -> dict[str, Any]:
        parameter = next(pipe.transformer.parameters())  # the pipeline may have moved since it was built
        embeds = tiny_flux_prompt(seed=prompt_seed(prompt, seed), batch=batch).as_kwargs()
        return {**{k: v.to(parameter.device, parameter.dtype) for k, v in embeds.items()}, "guidance_scale": 3.5}

    return PipelineModel(
        name="tiny-flux", family="flux", source="tiny preset", pipe=pipe,
        default_height=tiny_flux_call.height, default_width=tiny_flux_call.width, default_frames=None,
        default_steps=tiny_flux_call.steps,  # the preset's one default (tiny_pipeline, demo, bench, compare)
        prompt_kwargs=prompt_kwargs,
    )


# Keys of the tiny call helpers that ``PipelineModel.generate`` sets itself.
_GENERATE_KEYS = ("height", "width", "num_frames", "num_inference_steps", "generator", "output_type", "prompt")


def tiny_pipeline_preset(name: str, family: str, *, frames_per_token: int | None = None, single_frame: bool = False,
                         pixels_per_token: int | None = None):
    """A preset builder for ``na_accel.tiny.TINY_PIPELINES[name]`` (pipeline factory, call helper):
    the call helper's defaults give the default size and the pipeline's extra kwargs (prompt
    template, guidance, text length); the prompt text goes to the tiny text encoders."""

    def build(seed: int) -> PipelineModel:
        from ..tiny import TINY_PIPELINES
        from .loaded_models import PipelineModel

        factory, call = TINY_PIPELINES[name]
        pipe = factory(seed=seed)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        defaults = call()

        def prompt_kwargs(prompt: str, seed: int, batch: int) -> dict[str, Any]:
            extra = {k: v for k, v in call(prompt=prompt, seed=seed).items() if k not in _GENERATE_KEYS}
            if batch == 1:  # a plain string, which every pipeline takes (MiniMax-H3 takes nothing else)
                extra["prompt"] = prompt
            else:
                extra["prompt"] = [prompt] * batch
                if "negative_prompt" in extra and isinstance(extra["negative_prompt"], str):
                    extra["negative_prompt"] = [extra["negative_prompt"]] * batch
            return extra

        return PipelineModel(
            name=name, family=family, source="tiny preset", pipe=pipe, default_height=defaults["height"],
            default_width=defaults["width"], default_frames=defaults.get("num_frames"),
            default_steps=defaults["num_inference_steps"], prompt_kwargs=prompt_kwargs,
            frames_per_token=frames_per_token, single_frame=single_frame, pixels_per_token=pixels_per_token,
        )

    build.preset = name
    return build


def _random_weights_spec(family) -> ModelSpec:
    """The random-weights model of a family (``FamilySpec``): its shipped full-size config."""
    shipped = family.shipped_config()
    return ModelSpec(shipped["name"], family.name,
                     f"{shipped['title']} transformer ({shipped['approx_parameters'] / 1e9:.1f}B), random weights",
                     config_file=family.config_file)


def _tiny_preset(name: str, family: str, description: str, *, frames_per_token: int | None = None,
                 single_frame: bool = False, pixels_per_token: int | None = None,
                 prompt_file: Path | None = None) -> ModelSpec:
    """A tiny preset of ``na_accel.tiny.TINY_PIPELINES``, named and described once."""
    build = tiny_pipeline_preset(name, family, frames_per_token=frames_per_token, single_frame=single_frame,
                                 pixels_per_token=pixels_per_token)
    return ModelSpec(name, family, description, build_preset=build, frames_per_token=frames_per_token,
                     single_frame=single_frame, pixels_per_token=pixels_per_token, prompt_file=prompt_file)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("tiny-flux", "flux", "tiny random-weight FluxPipeline (2 heads x 16), offline, CPU-fast",
                  build_preset=_tiny_flux),
        # Trained, not random: its pictures show what a prompt asked for. Its 2x VAE: 4 pixels per token.
        _tiny_preset("tiny-flux-shapes", "flux", "tiny FluxPipeline trained by na_accel on captioned shapes (4 heads x "
                     "32; its pictures mean something), offline", pixels_per_token=4,
                     prompt_file=SHAPES_PROMPTS),
        _tiny_preset("tiny-flux-kontext", "flux", "tiny random-weight FluxKontextPipeline (FLUX.1 Kontext: a reference "
                     "image, a second token grid), offline"),
        _tiny_preset("tiny-hunyuan-video", "hunyuan_video", "tiny random-weight HunyuanVideoPipeline, offline"),
        # The tiny Cosmos VAE compresses time 4x (Cosmos-Predict1's: 8x).
        _tiny_preset("tiny-cosmos", "cosmos", "tiny random-weight CosmosTextToWorldPipeline (Predict1), offline",
                     frames_per_token=4),
        _tiny_preset("tiny-cosmos2-t2i", "cosmos", "tiny random-weight Cosmos2TextToImagePipeline (Predict2), images, "
                     "offline", single_frame=True),
        _tiny_preset("tiny-wan", "wan", "tiny random-weight WanPipeline (2.1), offline"),
        _tiny_preset("tiny-wan2.2", "wan", "tiny random-weight Wan 2.2 two-expert WanPipeline (transformer_2), offline"),
        _tiny_preset("tiny-hunyuan-video15", "hunyuan_video15", "tiny random-weight HunyuanVideo15Pipeline (text-to-video, "
                     "Qwen2.5-VL + ByT5 text encoders), offline"),
        _tiny_preset("tiny-flux2", "flux2", "tiny random-weight Flux2Pipeline (Mistral 3 text encoder), offline"),
        _tiny_preset("tiny-flux2-klein", "flux2", "tiny random-weight Flux2KleinPipeline (Qwen 3 text encoder, true "
                     "CFG), offline"),
        _tiny_preset("tiny-qwen-image", "qwen_image", "tiny random-weight QwenImagePipeline (tiny Qwen2.5-VL text "
                     "encoder), offline"),
        _tiny_preset("tiny-ltx-video", "ltx_video", "tiny random-weight LTXPipeline (LTX-Video, T5 text encoder), "
                     "offline"),
        _tiny_preset("tiny-ltx2", "ltx2", "tiny random-weight LTX2Pipeline (LTX-2: video + audio, Gemma 3 text "
                     "model), offline"),
        _tiny_preset("tiny-flux-modular", "flux", "tiny random-weight FluxModularPipeline (diffusers' modular "
                     "FluxAutoBlocks over tiny-flux's components), offline"),
        _tiny_preset("tiny-wan2.2-modular", "wan", "tiny random-weight Wan22ModularPipeline (modular Wan22Blocks, two "
                     "experts: transformer and transformer_2), offline"),
        # The tiny MiniMax-H3 VAE keeps one latent frame per 120-frame chunk (the released one: 5 per 17).
        _tiny_preset("tiny-minimax-h3", "minimax_h3", "tiny random-weight MiniMaxH3ModularPipeline (modular, t2va: "
                     "video + audio latents, tiny Qwen3-VL text encoder), offline", frames_per_token=60),
        _tiny_preset("tiny-hunyuan-image", "hunyuan_image", "tiny random-weight HunyuanImagePipeline (HunyuanImage 2.1: "
                     "Qwen2.5-VL + ByT5 text encoders, APG guider), offline"),
        _tiny_preset("tiny-helios", "helios", "tiny random-weight HeliosPipeline (one chunk after the default "
                     "history), offline"),
        _tiny_preset("tiny-chroma", "chroma", "tiny random-weight ChromaPipeline (T5 text encoder, its prompt masks "
                     "bool), offline"),
        _tiny_preset("tiny-flux3", "flux3", "tiny random-weight modular FLUX.3 pipeline (Flux3AutoBlocks, Qwen3-VL "
                     "text encoder), offline"),
        _tiny_preset("tiny-z-image", "z_image", "tiny random-weight ZImagePipeline (tiny Qwen 3 text encoder, CFG), "
                     "offline"),
        _tiny_preset("tiny-kandinsky6", "kandinsky6", "tiny random-weight Kandinsky6TI2VAPipeline (text to video, no "
                     "audio; tiny Qwen2.5-VL + CLIP), offline"),
        _tiny_preset("tiny-wan-vace", "wan_vace", "tiny random-weight WanVACEPipeline (Wan 2.1 VACE: control blocks), offline"),
        _tiny_preset("tiny-skyreels-v2", "skyreels_v2", "tiny random-weight SkyReelsV2Pipeline (text-to-video), offline"),
    )
}
# ... and one random-weights model per family, from the family registry.
MODELS.update((spec.name, spec) for spec in (_random_weights_spec(family) for family in FAMILY_SPECS))


def model_prompts(name: str) -> list[str]:
    """The prompts compare and tune take on model ``name`` when none are given: a trained model's own
    (tiny-flux-shapes knows only its shapes world), else the shipped set."""
    from ..inputs.prompts import read_prompts

    spec = MODELS.get(name)
    return read_prompts(spec.prompt_file if spec is not None and spec.prompt_file else SHIPPED_PROMPTS)


def model_default_prompt(name: str) -> str:
    """The one prompt bench and compare take on model ``name`` when none is given."""
    spec = MODELS.get(name)
    return model_prompts(name)[0] if spec is not None and spec.prompt_file else DEFAULT_PROMPT


def known_models_text() -> str:
    return ", ".join(MODELS) + ", or a local pipeline folder / hub id"


def models_help() -> str:
    """The model argument's help, from ``MODELS`` (the one list of names)."""
    tiny = ", ".join(n for n, s in MODELS.items() if s.config_file is None)
    configs = ", ".join(n for n, s in MODELS.items() if s.config_file is not None)
    return (f"{tiny} (embedded, offline); {configs} (with --random-weights); or a local diffusers pipeline "
            "folder / hub id (`na-accel models` lists them)")


def shipped_config(name: str) -> dict[str, Any]:
    """The JSON of a shipped architecture config: class_name, family, source, config, ..."""
    spec = MODELS.get(name)
    if spec is None or spec.config_file is None:
        configs = [n for n, s in MODELS.items() if s.config_file]
        raise ArgumentError(f"model: {name!r} has no shipped architecture config; allowed: {configs}")
    return family_spec(spec.family).shipped_config()


def model_family(model: Any) -> str:
    """The family of ``model``: a family name as is, or a model name of bench / compare
    (``na-accel models``: flux-dev, tiny-wan, ...) as its family."""
    if isinstance(model, str) and model in supported_families():
        return model
    spec = MODELS.get(model) if isinstance(model, str) else None
    if spec is None:
        raise ArgumentError(f"--model: unknown model {model!r}; allowed: a model family {supported_families()} "
                            f"or a model name of `na-accel models` {list(MODELS)}")
    return spec.family
