"""GNA in ComfyUI: a second front end on the same route as the diffusers integration.

    from na_accel.comfyui import patch_model, describe_model
    patched = patch_model(model, "flux_gna")      # model: ComfyUI's MODEL (a ModelPatcher)
    ... sample with `patched` ...
    print(describe_model(patched))

The node pack (``custom_nodes/comfyui-na-accel`` in the repository; docs/comfyui.md) wraps
``patch_model`` as the node "GNA sparse attention (na_accel)". This package imports ComfyUI's
modules only inside ComfyUI's own calls: it loads wherever na_accel does.

* ``attention.py``: the seam, ComfyUI's attention override;
* ``patch.py``: ``patch_model`` / ``describe_model``, the per-clone ``ComfyPatch``;
* ``schedule.py``: the dense steps, from the sampler's sigmas;
* ``family.py`` and ``families/``: one ``ComfyFamily`` per ComfyUI model class;
* ``node.py``: the node class ComfyUI loads.
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".families": ["COMFY_FAMILIES", "comfy_family_for"],
    ".patch": ["ComfyPatch", "describe_model", "patch_model", "patch_of"],
})
