"""Model names -> something to run: embedded tiny presets, full-size random-weight configs, real weights.

    load_model("tiny-flux")                               # tiny random FLUX pipeline, offline
    load_model("flux-dev", random_weights=True, device="cuda", dtype=torch.bfloat16)
    load_model("/path/to/FLUX.1-dev")                     # diffusers from_pretrained (or a hub id)

Every loaded model has ``.pipe`` (what ``na_accel.patch`` takes) and ``.generate(...)``. The names
are ``model_list.MODELS`` (the tiny presets and one random-weights model per family).
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from pathlib import Path
from typing import Iterator
from typing import Any

import torch

from ..errors import ArgumentError, close_name
from ..families import adapter_for
from ..families.registry import SUPPORTED_HEADING, family_spec, supported_models_list
from ..inputs.devices import parse_device, parse_dtype
from ..pipeline_parts import disable_progress_bars, is_modular
from .loaded_models import LoadedModel, PipelineModel, SyntheticModel
from .model_list import MODELS, known_models_text, shipped_config
from .random_weights import build_on_device


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_model(
    name: str,
    *,
    random_weights: bool = False,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "float32",
    seed: int = 0,
    config_overrides: dict[str, Any] | None = None,
    text_len: int | None = None,
) -> LoadedModel:
    """Resolve ``name`` (a preset, a shipped config, a local folder or a hub id) and build it."""
    device = parse_device(device) if isinstance(device, str) else device
    dtype = parse_dtype(dtype) if isinstance(dtype, str) else dtype
    spec = MODELS.get(name)
    if spec is not None:
        if spec.config_file is not None:
            if not random_weights:
                checkpoint = shipped_config(name)["checkpoint"]
                raise ArgumentError(
                    f"model: {name!r} is an architecture config without weights; add --random-weights to "
                    f"time it with random weights, or pass the weights' folder or hub id ({checkpoint})"
                )
            return build_random_weights(name, device=device, dtype=dtype, seed=seed,
                                        overrides=config_overrides, text_len=text_len)
        if random_weights:
            raise ArgumentError(f"--random-weights: {name!r} is a tiny preset, random already; "
                                f"--random-weights applies to {[n for n, s in MODELS.items() if s.config_file]}")
        if config_overrides:
            raise ArgumentError("--config-override applies to --random-weights models only")
        if spec.unavailable:
            raise ArgumentError(f"model: {name!r} is not available: {spec.unavailable}")
        model = spec.build_preset(seed)
        model.pipe.to(device)
        if dtype != torch.float32:  # tiny presets are built in float32
            model.pipe.to(dtype=dtype)
        return model
    if random_weights:
        raise ArgumentError(f"--random-weights: unknown config {name!r}; allowed: "
                            f"{[n for n, s in MODELS.items() if s.config_file]}")
    if Path(name).expanduser().exists() or _looks_like_hub_id(name):
        return load_pretrained(name, device=device, dtype=dtype)
    if _looks_like_path(name):
        raise ArgumentError(f"model: the folder {name!r} does not exist; give an existing diffusers pipeline folder "
                            f"(with its model_index.json), or one of: {known_models_text()}")
    close = close_name(name, list(MODELS))
    hint = f" (did you mean {close!r}?)" if close else ""
    raise ArgumentError(f"model: unknown model {name!r}{hint}; known: {known_models_text()}")


def _looks_like_path(name: str) -> bool:
    """A local path rather than a model name or hub id: absolute, relative (./, ../, ~), or deeper than org/name."""
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def load_pretrained(path: str, *, device: torch.device, dtype: torch.dtype) -> PipelineModel:
    """A classic diffusers pipeline (``model_index.json``) or a modular one (``modular_model_index.json``:
    ``ModularPipeline.from_pretrained`` and ``load_components``) from a local folder or a hub id."""
    try:
        with quiet_torchvision_notices():
            pipe = _from_pretrained(path, dtype)
    except (OSError, ValueError) as exc:
        raise ArgumentError(f"model: could not load a diffusers pipeline from {path!r}: {exc}") from None
    pipe.to(device)
    disable_progress_bars(pipe)
    transformer = pipe.components.get("transformer")
    if not isinstance(transformer, torch.nn.Module):
        raise ArgumentError(f"model: {path!r} is a {type(pipe).__name__} without a transformer\n"
                            f"{SUPPORTED_HEADING}\n{supported_models_list()}")
    family = family_spec(adapter_for(transformer, where=f"model {path!r}: transformer").family)  # same test as patch
    sizes, sources = pretrained_defaults(pipe, family)
    return PipelineModel(
        name=path, family=family.name, source="pretrained", pipe=pipe,
        default_height=sizes["height"], default_width=sizes["width"], default_frames=sizes["frames"],
        default_steps=family.default_steps, default_sources=sources,
        details={"pipeline_class": type(pipe).__name__, "modular": is_modular(pipe)},
    )


# transformers' notices that a component (an image processor) "requires torchvision": it falls back to
# its PIL version, which is all a pipeline load needs; the notice only alarms a user of na-accel.
TORCHVISION_NOTICE = re.compile(r"requires torchvision\b")


class _TorchvisionNoticeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not TORCHVISION_NOTICE.search(record.getMessage())


@contextlib.contextmanager
def quiet_torchvision_notices() -> Iterator[None]:
    """Silence, while a pipeline loads, exactly the "requires torchvision" notices of transformers
    (its log records and any Python warning of that text); every other message passes, and the
    filters are removed after the load, so nothing changes for the rest of the process."""
    notice_filter = _TorchvisionNoticeFilter()
    library = logging.getLogger("transformers")  # transformers' records end at its own handlers
    targets = [library, *library.handlers, logging.getLogger("transformers.utils.import_utils"),
               *logging.getLogger().handlers]  # the root's, where a user let them propagate
    for target in targets:
        target.addFilter(notice_filter)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*requires torchvision\b")
            yield
    finally:
        for target in targets:
            target.removeFilter(notice_filter)


def pretrained_defaults(pipe: Any, family: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The height, width, frames and steps a loaded pipeline runs at when the command line gives none,
    and where each comes from: the size the pipeline's own call would use (``pipeline_default_size``)
    where it has one that the family's geometry takes, else the family's default (``FamilySpec``);
    steps always the family's default (``--steps`` to change)."""
    geometry = family.geometry
    family_default = f"the {family.name} family default"
    sizes = {"height": geometry.default_height, "width": geometry.default_width, "frames": geometry.default_frames}
    sources = {key: family_default for key in sizes}
    sources["steps"] = family_default
    own = pipeline_default_size(pipe)
    if "height" in own and "width" in own:
        height, width = own["height"][0], own["width"][0]
        try:  # a size the family can't run (not a multiple of its patch) is not a default
            geometry.token_grid(height, width, sizes["frames"] or None, name=str(type(pipe).__name__))
        except ArgumentError:
            pass
        else:
            sizes.update(height=height, width=width)
            sources.update(height=own["height"][1], width=own["width"][1])
    if geometry.is_video and "frames" in own:
        try:
            geometry.token_grid(sizes["height"], sizes["width"], own["frames"][0], name=str(type(pipe).__name__))
        except ArgumentError:
            pass
        else:
            sizes["frames"], sources["frames"] = own["frames"][0], own["frames"][1]
    if not geometry.is_video:
        sources.pop("frames")
    return sizes, sources


def pipeline_default_size(pipe: Any) -> dict[str, tuple[int, str]]:
    """What the pipeline's own call uses for ``height``, ``width`` and ``num_frames`` (as ``frames``)
    when they are not given, read the way diffusers (0.42) computes them, each with where it comes
    from; a value the pipeline computes some other way (or only at call time) is left out.

    - a modular pipeline: its ``default_height`` / ``default_width`` / ``default_num_frames``;
    - a classic pipeline: the integer defaults of its ``__call__`` (Wan: 480, 832, 81 frames); for
      ``None``: ``default_sample_size * vae_scale_factor`` (FLUX, Qwen-Image, Chroma, HunyuanImage),
      else ``transformer.config.sample_size * vae_scale_factor``, else HunyuanVideo 1.5's
      ``target_size`` at its ``default_aspect_ratio``.
    """
    import inspect

    name = type(pipe).__name__
    found: dict[str, tuple[int, str]] = {}

    def positive(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    if is_modular(pipe):
        values = {}
        for key, attribute in (("height", "default_height"), ("width", "default_width"),
                               ("frames", "default_num_frames")):
            try:
                value = getattr(pipe, attribute, None)
            except Exception:  # noqa: BLE001 - a property that needs a component the pipeline lacks
                value = None
            if positive(value):
                values[key] = (value, attribute)
        where = f"the pipeline's default ({name}.{'/'.join(attribute for _, attribute in values.values())})"
        return {key: (value, where) for key, (value, _) in values.items()}
    call = next((vars(base)["__call__"] for base in type(pipe).__mro__
                 if base.__module__.startswith("diffusers.") and "__call__" in vars(base)), None)
    try:
        parameters = inspect.signature(call).parameters if call is not None else {}
    except (TypeError, ValueError):
        parameters = {}
    for key, parameter in (("height", "height"), ("width", "width"), ("frames", "num_frames")):
        default = parameters[parameter].default if parameter in parameters else None
        if positive(default):
            found[key] = (default, f"the pipeline's default ({name}.__call__'s)")
    if "height" in found and "width" in found:
        return found
    factor = getattr(pipe, "vae_scale_factor", None)
    sample = getattr(pipe, "default_sample_size", None)
    config = getattr(getattr(pipe, "transformer", None), "config", None)
    if positive(sample) and positive(factor):
        where = f"the pipeline's default ({name}.default_sample_size {sample} x vae_scale_factor {factor})"
        found.update(height=(sample * factor, where), width=(sample * factor, where))
    elif positive(getattr(config, "sample_size", None)) and positive(factor):
        sample = config.sample_size
        where = f"the pipeline's config (transformer.config.sample_size {sample} x vae_scale_factor {factor})"
        found.update(height=(sample * factor, where), width=(sample * factor, where))
    elif positive(getattr(pipe, "target_size", None)) and hasattr(pipe, "default_aspect_ratio"):
        try:  # HunyuanVideo 1.5: the transformer's target_size at 16:9
            ratio = pipe.default_aspect_ratio
            height, width = pipe.video_processor.calculate_default_height_width(ratio[1], ratio[0], pipe.target_size)
        except Exception:  # noqa: BLE001 - not the pipeline this reads
            return found
        where = (f"the pipeline's config (transformer.config.target_size {pipe.target_size} at aspect "
                 f"{ratio[0]}:{ratio[1]})")
        if positive(int(height)) and positive(int(width)):
            found.update(height=(int(height), where), width=(int(width), where))
    return found


def _from_pretrained(path: str, dtype: torch.dtype) -> Any:
    folder = Path(path).expanduser()
    if folder.is_dir() and not (folder / "model_index.json").is_file() and (folder / "modular_model_index.json").is_file():
        from diffusers.modular_pipelines import ModularPipeline

        pipe = ModularPipeline.from_pretrained(str(folder))
        pipe.load_components(dtype=dtype)
        return pipe
    from diffusers import DiffusionPipeline

    try:
        return DiffusionPipeline.from_pretrained(path, dtype=dtype)
    except (OSError, ValueError) as exc:
        if folder.exists() or "model_index.json" not in str(exc):
            raise
        # a hub repo of a modular pipeline has a modular_model_index.json and no model_index.json
        from diffusers.modular_pipelines import ModularPipeline

        try:
            pipe = ModularPipeline.from_pretrained(path)
        except (OSError, ValueError):
            raise exc from None
        pipe.load_components(dtype=dtype)
        return pipe


def build_random_weights(
    name: str,
    *,
    device: torch.device,
    dtype: torch.dtype,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    text_len: int | None = None,
) -> SyntheticModel:
    """The transformer of a shipped config with random weights, built on the meta device first."""
    from .synthetic import SyntheticPipeline, check_synthetic_loop

    shipped = shipped_config(name)
    check_synthetic_loop(shipped["family"], where=f"--random-weights {name}")  # before a full-size model is built
    config = dict(shipped["config"])
    unknown = sorted(set(overrides or {}) - set(config))
    if unknown:
        raise ArgumentError(f"--config-override: unknown key(s) {unknown} for {name}; allowed: {sorted(config)}")
    config.update(overrides or {})
    transformer = build_on_device(shipped["class_name"], config, device=device, dtype=dtype, seed=seed)
    family = family_spec(shipped["family"])
    geometry = family.geometry
    return SyntheticModel(
        name=name, family=family.name, source="random weights",
        pipe=SyntheticPipeline(transformer, family.name, text_len=text_len),
        default_height=geometry.default_height, default_width=geometry.default_width,
        default_frames=geometry.default_frames, default_steps=family.default_steps,
        details={"checkpoint": shipped["checkpoint"], "config_source": shipped["source"],
                 "config_overrides": overrides or {}},
    )
