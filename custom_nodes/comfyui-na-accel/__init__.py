"""ComfyUI node pack of na_accel: "GNA sparse attention (na_accel)".

Copy (or link) this folder into ComfyUI's ``custom_nodes/``; na_accel itself must be installed in
the Python that runs ComfyUI (docs/comfyui.md). The node's code lives in ``na_accel.comfyui``.
"""

try:
    from na_accel.comfyui.node import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
except ImportError as exc:  # ComfyUI logs this and goes on without the node
    raise ImportError(
        f"comfyui-na-accel needs the na_accel package in the Python that runs ComfyUI ({exc}); install it there: "
        "run `python -m pip install -e .` in na_accel's folder with the Python that runs ComfyUI (see na_accel's docs/comfyui.md)"
    ) from exc

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
