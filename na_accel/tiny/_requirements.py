"""What the tiny presets need of the installed diffusers, and why one can't be built where it can't.

na_accel supports diffusers 0.36 to 0.42 (pyproject.toml), and every tiny preset is built with the
installed release. A few use what came later:

* ``tiny-flux2-klein``: ``Flux2KleinPipeline`` and ``Flux2Transformer2DModel(guidance_embeds=False)``
  (diffusers 0.37; before, every FLUX.2 transformer has a guidance embedder);
* ``tiny_qwen_image_transformer(zero_cond_t=True)`` (Qwen-Image-Edit-2511's modulation, diffusers 0.37);
* ``tiny-wan`` and ``tiny-wan2.2`` run on 0.36 only with ``ftfy`` installed: WanPipeline's prompt
  cleaning calls ftfy unconditionally before diffusers 0.37 (a ``NameError`` without it).

Arguments that came later are passed only where the installed model class takes them
(``config_arguments``); left out where the value is what the older releases always did (FLUX.2's
guidance embedder, no ``zero_cond_t``). What can't be built raises ``TinyPresetUnavailable``, which
names the installed diffusers and what is missing; ``unavailable_reason(preset)`` gives the same
reason without building anything (``na-accel models``, the tests' skips).
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any, Mapping

from ..errors import NaAccelError

DIFFUSERS_0_37 = "0.37.0"
# what came after diffusers 0.36 -> the release that brought it (named in the reasons)
SINCE = {
    "Flux2KleinPipeline": DIFFUSERS_0_37,
    ("Flux2Transformer2DModel", "guidance_embeds"): DIFFUSERS_0_37,
    ("QwenImageTransformer2DModel", "zero_cond_t"): DIFFUSERS_0_37,
}

# preset -> the diffusers classes it is built from (pipeline, transformer)
PRESET_CLASSES = {
    "tiny-flux": ("FluxPipeline", "FluxTransformer2DModel"),
    "tiny-flux-shapes": ("FluxPipeline", "FluxTransformer2DModel"),
    "tiny-flux-kontext": ("FluxKontextPipeline", "FluxTransformer2DModel"),
    "tiny-hunyuan-video": ("HunyuanVideoPipeline", "HunyuanVideoTransformer3DModel"),
    "tiny-cosmos": ("CosmosTextToWorldPipeline", "CosmosTransformer3DModel"),
    "tiny-cosmos2-t2i": ("Cosmos2TextToImagePipeline", "CosmosTransformer3DModel"),
    "tiny-wan": ("WanPipeline", "WanTransformer3DModel"),
    "tiny-wan2.2": ("WanPipeline", "WanTransformer3DModel"),
    "tiny-hunyuan-video15": ("HunyuanVideo15Pipeline", "HunyuanVideo15Transformer3DModel"),
    "tiny-flux2": ("Flux2Pipeline", "Flux2Transformer2DModel"),
    "tiny-flux2-klein": ("Flux2KleinPipeline", "Flux2Transformer2DModel"),
    "tiny-qwen-image": ("QwenImagePipeline", "QwenImageTransformer2DModel"),
    "tiny-ltx-video": ("LTXPipeline", "LTXVideoTransformer3DModel"),
    "tiny-ltx2": ("LTX2Pipeline", "LTX2VideoTransformer3DModel"),
    "tiny-flux-modular": ("FluxAutoBlocks", "FluxPipeline", "FluxTransformer2DModel"),
    "tiny-wan2.2-modular": ("Wan22Blocks", "WanPipeline", "WanTransformer3DModel"),
    "tiny-minimax-h3": ("MiniMaxH3ModularPipeline", "MiniMaxH3Transformer3DModel"),  # modular only (0.42)
    "tiny-hunyuan-image": ("HunyuanImagePipeline", "HunyuanImageTransformer2DModel"),
    "tiny-helios": ("HeliosPipeline", "HeliosTransformer3DModel"),
    "tiny-chroma": ("ChromaPipeline", "ChromaTransformer2DModel"),
    "tiny-flux3": ("Flux3AutoBlocks", "Flux3Transformer2DModel"),
    "tiny-z-image": ("ZImagePipeline", "ZImageTransformer2DModel"),
    "tiny-kandinsky6": ("Kandinsky6TI2VAPipeline", "Kandinsky6Transformer3DModel"),
    "tiny-wan-vace": ("WanVACEPipeline", "WanVACETransformer3DModel"),
    "tiny-skyreels-v2": ("SkyReelsV2Pipeline", "SkyReelsV2Transformer3DModel"),
}
# preset -> (model class, config argument) it needs with a value older releases can't give
PRESET_ARGUMENTS = {
    "tiny-flux2-klein": (("Flux2Transformer2DModel", "guidance_embeds"),),
}
# presets whose pipeline cleans prompts with ftfy, unconditionally before diffusers 0.37
FTFY_PRESETS = ("tiny-wan", "tiny-wan2.2")


class TinyPresetUnavailable(NaAccelError, RuntimeError):
    """A tiny preset (or a tiny model option) needs what the installed diffusers does not have."""


def diffusers_version() -> str:
    import diffusers

    return diffusers.__version__


def _older_than(version: str, release: str) -> bool:
    from packaging.version import Version

    return Version(version) < Version(release)


def _has_class(name: str) -> bool:
    import diffusers

    return name in dir(diffusers)  # diffusers' lazy module lists every name it has without importing it


def _takes_argument(model_class: type, name: str) -> bool:
    return name in inspect.signature(model_class.__init__).parameters


def _added(key) -> str:
    return f" (added in diffusers {SINCE[key]})" if key in SINCE else ""


def unavailable_reason(preset: str) -> str | None:
    """Why ``preset`` can't be built with the installed diffusers; None when it can."""
    version = diffusers_version()
    missing = [name for name in PRESET_CLASSES.get(preset, ()) if not _has_class(name)]
    if missing:
        return (f"{preset} needs {', '.join(f'diffusers.{name}{_added(name)}' for name in missing)}, which diffusers "
                f"{version} does not have")
    import diffusers

    for class_name, argument in PRESET_ARGUMENTS.get(preset, ()):
        if not _takes_argument(getattr(diffusers, class_name), argument):
            return (f"{preset} needs {class_name}({argument}=...){_added((class_name, argument))}, which diffusers "
                    f"{version} does not take")
    if preset in FTFY_PRESETS and _older_than(version, DIFFUSERS_0_37) and importlib.util.find_spec("ftfy") is None:
        return (f"{preset}: diffusers {version}'s WanPipeline cleans every prompt with ftfy, which is not installed "
                f"(pip install ftfy; diffusers >= {DIFFUSERS_0_37} runs without it)")
    return None


def require_preset(preset: str) -> None:
    """Raise ``TinyPresetUnavailable`` with the reason where ``preset`` can't be built here."""
    reason = unavailable_reason(preset)
    if reason is not None:
        raise TinyPresetUnavailable(reason)


def config_arguments(model_class: type, what: str, arguments: Mapping[str, Any],
                     older_values: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` for ``model_class(...)``, less those the installed class does not take (they
    came in a later diffusers) whose value is ``older_values``' (what the older releases always
    do); any other value of an argument it does not take raises ``TinyPresetUnavailable``."""
    kept = {}
    for name, value in arguments.items():
        if _takes_argument(model_class, name):
            kept[name] = value
        elif name in older_values and value == older_values[name]:
            continue
        else:
            since = SINCE.get((model_class.__name__, name))
            raise TinyPresetUnavailable(
                f"{what}: {name}={value!r} needs {f'diffusers >= {since}' if since else 'a newer diffusers'}; "
                f"diffusers {diffusers_version()}'s {model_class.__name__} has no {name!r} argument")
    return kept


__all__ = ["TinyPresetUnavailable", "config_arguments", "require_preset", "unavailable_reason"]
