"""What a model family is, in one object: ``FamilySpec`` (and the ``FamilyGeometry`` it holds).

Every other place that needs a family fact (recipe validation, patch, estimate, the random-weight
benchmarks, the model zoo, the tests) reads it from the family's spec, declared once in
``na_accel/families/<family>_spec.py`` and listed in ``registry.py``. Nothing here imports
diffusers: recipes validate and estimates run without loading model code; the adapter is imported
on first use.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Mapping

from ..errors import ArgumentError

# Size bounds of ``FamilyGeometry.token_grid``, the one size check (estimate, bench, compare, demo).
# Per axis: the recipes' own bound (na_accel.recipe.scaling.MAX_AXIS, restated here so that families
# import nothing from recipes; a test keeps them equal): windows, strides and tiles are at most that
# many tokens, so a longer axis could not be described by a recipe anyway.
MAX_AXIS_TOKENS = 65_536
# In all: 2**22 tokens, ~35x HunyuanVideo's default 720x1280 x 129 frames (118,800 tokens) and ~4x a
# 4K (2160x3840) video of 129 frames (1.07M). One hidden state of a 3072-wide transformer at 2**22
# tokens is 24 GiB in bf16: a few of them fill the largest single GPU, and dense attention there is
# hours per step. Beyond it no model runs, and the tools' own per-token work would exhaust memory.
MAX_TOKENS = 2**22
MAX_TOKENS_WHY = ("na_accel.families.family_types.MAX_TOKENS: one hidden state there is ~24 GiB in bf16, "
                  "past what a single GPU runs")


def is_int(value: Any) -> bool:
    """An int that is not a bool (True is an int to Python, never a size to na_accel)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class FamilyGeometry:
    """How a family's pipelines turn (height, width, frames) in pixels into a token grid.

    ``pixels_per_token`` is the VAE's spatial downsampling times the transformer's spatial patch
    size; ``frames_per_token`` the VAE's temporal compression times the temporal patch size (None
    for image models). Video VAEs keep the first frame apart: ``latent = (frames - 1) // c + 1``.
    """

    axes: tuple[str, ...]  # token-grid axes in token order (row-major)
    pixels_per_token: int
    frames_per_token: int | None
    default_height: int
    default_width: int
    default_frames: int | None
    reference: str  # the checkpoint whose geometry this is
    family: str = ""  # the family's name, filled in by its FamilySpec (stated once, there)

    @property
    def is_video(self) -> bool:
        return self.frames_per_token is not None

    def token_grid(self, height: Any, width: Any, frames: Any = None, *, name: str | None = None,
                   single_frame: bool = False) -> tuple[int, ...]:
        """The token grid the transformer sees for an output of ``height`` x ``width`` (x ``frames``) pixels.

        The one size check of na_accel (estimate, bench, compare, demo and the zoo call it): a bad
        size is an ArgumentError naming the field as on the command line, the value, the model
        (``name``, default the family) and what is allowed. Video families default to their
        ``default_frames``. ``single_frame``: a video family's transformer run on images (Cosmos 2
        text-to-image): frames must be 1 or none, and the grid has one latent frame.
        """
        name = self.family if name is None else name
        step = self.pixels_per_token
        for field, value in (("height", height), ("width", width)):
            if not is_int(value) or not step <= value <= step * MAX_AXIS_TOKENS or value % step:
                raise ArgumentError(
                    f"--{field}: {value!r} is not valid for {name}; allowed: a multiple of {step} pixels in "
                    f"[{step}, {step * MAX_AXIS_TOKENS}] (one {self.family} token is {step}x{step} pixels; at "
                    f"most {MAX_AXIS_TOKENS} tokens per axis)"
                )
        spatial = (height // step, width // step)
        if not self.is_video or single_frame:
            if frames is not None and not (is_int(frames) and frames == 1):
                raise ArgumentError(f"--frames: {frames!r} is not valid for {name}, an image model; allowed: 1 or none")
            grid = (1, *spatial) if self.is_video else spatial
        else:
            c = self.frames_per_token
            frames = self.default_frames if frames is None else frames
            most = c * (MAX_AXIS_TOKENS - 1) + 1
            if not (is_int(frames) and 1 <= frames <= most and (frames - 1) % c == 0):
                raise ArgumentError(
                    f"--frames: {frames!r} is not valid for {name}; allowed: {c}k+1 frames in [1, {most}] "
                    f"(1, {c + 1}, {2 * c + 1}, ...; at most {MAX_AXIS_TOKENS} latent frames)"
                )
            grid = ((frames - 1) // c + 1, *spatial)
        tokens = math.prod(grid)
        if tokens > MAX_TOKENS:
            size = f"{height}x{width} pixels" + (f" x {frames} frames" if len(grid) == 3 and not single_frame
                                                 and self.is_video else "")
            flags = "--height x --width" + (" x --frames" if self.is_video and not single_frame else "")
            raise ArgumentError(
                f"{flags}: {size} is {'x'.join(map(str, grid))} = {tokens:,} tokens for {name}; allowed: at most "
                f"{MAX_TOKENS:,} tokens ({MAX_TOKENS_WHY})"
            )
        return grid


def diffusers_attention_shape(config: Mapping[str, Any]) -> tuple[int, int]:
    """(heads, head_dim) of a config in diffusers' usual names (``num_attention_heads``, ``attention_head_dim``)."""
    return int(config["num_attention_heads"]), int(config["attention_head_dim"])


def same_text_tokens(grid: tuple[int, ...], text_len: int) -> int:
    """The text tokens a joint sequence holds for ``text_len`` text tokens: all of them, as they are."""
    return text_len


# (transformer, grid, *, batch, text_len, seed, device, dtype) -> forward kwargs, "hidden_states" and
# "timestep" included: random inputs shaped as the family's pipeline passes them, read from the config.
InputBuilder = Callable[..., dict]


@dataclass(frozen=True)
class LayerStack:
    """A stack of attention modules GNA routes: ``template`` with ``{}`` = 0 .. n-1 (their qualified
    names, in module order), n read from the diffusers config: ``count`` is its key, or a function of it."""

    template: str  # "blocks.{}.attn1"
    count: str | Callable[[Mapping[str, Any]], int]  # "num_layers"

    def names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return numbered(self.template, self.count(config) if callable(self.count) else config[self.count])

    @property
    def pattern(self) -> str:
        """The regular expression of the stack's names (any block number)."""
        return r"\d+".join(re.escape(part) for part in self.template.split("{}"))


@dataclass(frozen=True)
class FamilySpec:
    """One model family: everything na_accel knows about it, in one place.

    Pipeline defaults (``default_steps``, ``default_text_tokens``) and the size of the full model
    are read from the family's shipped config (``configs/<config_file>``), never restated.
    """

    name: str  # the recipe "model" value
    geometry: FamilyGeometry
    config_file: str  # the full-size architecture config, in na_accel/families/configs/
    # The attention modules GNA may route, stated once: ``layer_names`` (estimate plans over them
    # without building a model) and the adapter's ``layer_pattern`` (patch finds them in a model) derive from it.
    attention_layers: tuple[LayerStack, ...]
    transformer_inputs: InputBuilder
    adapter_path: str  # "module:function" making the family's ModelAdapter; its module imports diffusers: lazily
    text_in_self_attention: bool  # text tokens join the visual self attention (else: cross attention)
    timestep_scale: float = 1.0  # scheduler timesteps (0..1000) -> the transformer's (FLUX: t / 1000)
    # full-size config -> (heads, head_dim) of the self attention GNA routes (its config's own names)
    attention_shape: Callable[[Mapping[str, Any]], tuple[int, int]] = diffusers_attention_shape
    # (token grid, text tokens given) -> the non-grid tokens of the joint sequence (Z-Image pads its
    # image and caption to multiples of 32); only read where text_in_self_attention
    joint_text_tokens: Callable[[tuple[int, ...], int], int] = same_text_tokens
    # why the synthetic denoising loop (bench / compare --random-weights: hidden_states and timestep by
    # keyword, one latent tensor in and out) can't drive this family's transformer; None: it can
    synthetic_loop_problem: str | None = None
    # model-free points the pipeline's num_inference_steps counts besides its transformer steps
    # (MiniMax-H3's scheduler counts its last, zero-noise point): na_accel's steps are transformer steps
    schedule_extra_points: int = 0

    def __post_init__(self) -> None:
        if self.geometry.family not in ("", self.name):
            raise ValueError(f"FamilySpec {self.name!r}: geometry is for {self.geometry.family!r}")
        object.__setattr__(self, "geometry", dataclasses.replace(self.geometry, family=self.name))

    def layer_names(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        """diffusers config (the shipped one, a tiny one, ...) -> the qualified names of the attention
        modules GNA may route, in module order."""
        return tuple(name for stack in self.attention_layers for name in stack.names(config))

    @property
    def layer_pattern(self) -> str:
        """The regular expression (full match) of those names, whatever the config."""
        return "|".join(f"(?:{stack.pattern})" for stack in self.attention_layers)

    @property
    def recipe(self) -> str:
        """The shipped recipe for this family (recipes/<name>_gna.yaml)."""
        return f"{self.name}_gna"

    def shipped_config(self) -> dict[str, Any]:
        """The shipped config file: name, family, class_name, checkpoint, source, approx_parameters,
        default_steps, default_text_tokens and ``config`` (the diffusers config). A fresh copy."""
        return json.loads(_config_text(self.config_file))

    @property
    def default_steps(self) -> int:
        """The pipeline's default num_inference_steps."""
        return int(self.shipped_config()["default_steps"])

    @property
    def default_text_tokens(self) -> int:
        """Text tokens the pipeline passes by default (its max_sequence_length)."""
        return int(self.shipped_config()["default_text_tokens"])

    def adapter(self) -> Any:
        """A new adapter (na_accel.families.base.ModelAdapter: the family's declaration, with caches of
        its own) for this family's transformers; it takes its name and layers from this spec."""
        module, _, attribute = self.adapter_path.partition(":")
        return getattr(importlib.import_module(module), attribute)(self)

    def unavailable_reason(self) -> str | None:
        """Why the installed diffusers can't give this family (its transformer class came in a later
        release: the declaration's import fails), else None."""
        try:
            self.adapter()
        except ImportError as exc:
            import diffusers

            return f"{self.name}: diffusers {diffusers.__version__} lacks what its declaration imports ({exc})"
        return None


@functools.cache
def _config_text(file: str) -> str:
    return resources.files("na_accel.families.configs").joinpath(file).read_text()


def numbered(pattern: str, count: int) -> tuple[str, ...]:
    """``pattern`` with {} replaced by 0 .. count-1: the names of a stack of blocks."""
    return tuple(pattern.format(i) for i in range(int(count)))


__all__ = ["MAX_AXIS_TOKENS", "MAX_TOKENS", "FamilyGeometry", "FamilySpec", "InputBuilder", "LayerStack",
           "diffusers_attention_shape",
           "is_int", "numbered", "same_text_tokens"]
