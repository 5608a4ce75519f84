"""The node pack (custom_nodes/comfyui-na-accel) and its node, as ComfyUI loads and calls them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml

from comfyui.cases.base import sample
from comfyui.cases.flux import FLUX
from na_accel.comfyui import COMFY_FAMILIES, patch_of
from na_accel.comfyui.node import FROM_FILE, NODE_CLASS_MAPPINGS, GNAReport, GNASparseAttention, comfy_recipes
from na_accel.errors import ArgumentError, PatchStateError, RecipeError

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "custom_nodes" / "comfyui-na-accel"
WORKFLOW = PACK / "example_workflows" / "flux_gna.json"
COMFY_TYPES = {"MODEL", "FLOAT", "INT", "STRING", "BOOLEAN"}



def test_the_pack_loads_as_comfyui_loads_a_custom_node_folder():
    # ComfyUI (nodes.py, load_custom_node) imports a folder's __init__.py under the folder's path with
    # dots replaced, then reads NODE_CLASS_MAPPINGS / NODE_DISPLAY_NAME_MAPPINGS from it. (Its own
    # nodes module can't be imported here: comfy.sd needs torchvision, whose registry wheels need CUDA torch.)
    name = str(PACK).replace(".", "_x_")
    spec = importlib.util.spec_from_file_location(name, PACK / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    assert module.NODE_CLASS_MAPPINGS == {"NaAccelGNASparseAttention": GNASparseAttention, "NaAccelGNAReport": GNAReport}
    assert module.NODE_DISPLAY_NAME_MAPPINGS == {"NaAccelGNASparseAttention": "GNA sparse attention (na_accel)",
                                                "NaAccelGNAReport": "GNA report (na_accel)"}
    pack = (PACK / "pyproject.toml").read_text()
    assert 'name = "comfyui-na-accel"' in pack and "[tool.comfy]" in pack and "PublisherId" in pack


@pytest.mark.parametrize("node", [GNASparseAttention, GNAReport])
def test_inputs_follow_comfyuis_conventions(node):
    inputs = node.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, (kind, options) in inputs[section].items():
            if isinstance(kind, list):  # a combo: the default is one of its choices
                assert kind and options["default"] in kind, name
            else:
                assert kind in COMFY_TYPES | {"LATENT"}, name
                if kind == "FLOAT":
                    assert options["min"] <= options["default"] <= options["max"], name
            assert options.get("tooltip"), name
    assert len(node.RETURN_TYPES) == len(node.RETURN_NAMES) and hasattr(node, node.FUNCTION)


def test_the_recipe_list_is_the_shipped_recipes_of_the_families_the_node_patches():
    families = {family.name for family in COMFY_FAMILIES}
    shipped = {path.stem for path in (REPO / "recipes").glob("*.yaml")
               if yaml.safe_load(path.read_text())["model"] in families}
    assert set(comfy_recipes()) == shipped and "flux_gna" in shipped
    assert GNASparseAttention.INPUT_TYPES()["required"]["recipe"][0] == [*comfy_recipes(), FROM_FILE]


def test_the_node_returns_a_patched_clone_and_its_plan(comfy, flux):
    stock = sample(comfy, flux, FLUX)
    patched, plan = GNASparseAttention().patch(flux, "flux_gna", "reference", 0.0, 1.0, "sparse")
    assert patch_of(flux) is None and patch_of(patched).recipe.name == "flux_gna"
    assert "transformer_blocks.0.attn" in plan and "single_transformer_blocks.1.attn" in plan
    samples = sample(comfy, patched, FLUX)
    assert samples.shape == stock.shape
    assert patch_of(patched).totals()  # it ran through GNA's routes (the contract checks the numbers)
    shown = GNAReport().report(patched, {"samples": samples})
    assert shown["ui"]["text"] == list(shown["result"]) and "totals: sparse: 8" in shown["result"][0]  # 2 steps x 4 layers
    with pytest.raises(PatchStateError, match="not patched by na_accel"):
        GNAReport().report(flux)


def test_a_recipe_file(comfy, flux, tmp_path):
    path = tmp_path / "my_flux.yaml"
    path.write_text("model: flux\nname: my_flux\ndense_steps: 0\ndefault:\n  kernel_size: [3, 5]\n")
    patched, plan = GNASparseAttention().patch(flux, FROM_FILE, "reference", 0.0, 1.0, "sparse", str(path))
    assert patch_of(patched).recipe.name == "my_flux" and "window 3x5" in plan
    with pytest.raises(ArgumentError, match="recipe_file: empty"):
        GNASparseAttention().patch(flux, FROM_FILE, "auto", 0.0, 1.0, "recipe", "  ")
    path.write_text("model: flux\ndefault:\n  kernel_size: [3, 5, 7]\n")
    with pytest.raises(RecipeError, match="kernel_size"):
        GNASparseAttention().patch(flux, FROM_FILE, "auto", 0.0, 1.0, "recipe", str(path))


def _comfyui_node_ids(checkout: Path) -> str:
    """The source of ComfyUI's node modules, where each core node's id is written."""
    return "\n".join(p.read_text() for p in [checkout / "nodes.py", *sorted((checkout / "comfy_extras").glob("*.py"))])


def test_the_example_workflow_is_consistent(comfy):
    from comfyui.comfy_checkout import checkout

    workflow = json.loads(WORKFLOW.read_text())
    nodes = {node["id"]: node for node in workflow["nodes"]}
    for link_id, source, source_slot, target, target_slot, kind in workflow["links"]:
        assert nodes[source]["outputs"][source_slot]["type"] == kind == nodes[target]["inputs"][target_slot]["type"]
        assert link_id in nodes[source]["outputs"][source_slot]["links"]
        assert nodes[target]["inputs"][target_slot]["link"] == link_id
    assert set(NODE_CLASS_MAPPINGS) <= {node["type"] for node in nodes.values()}  # the workflow shows both nodes
    sources = _comfyui_node_ids(checkout())
    for node in nodes.values():
        if node["type"] in NODE_CLASS_MAPPINGS:
            inputs = NODE_CLASS_MAPPINGS[node["type"]].INPUT_TYPES()
            widgets = [(n, spec) for section in ("required", "optional") for n, spec in inputs[section].items()
                       if spec[0] not in ("MODEL", "LATENT")]
            assert len(node["widgets_values"]) == len(widgets)
            for value, (name, (kind, options)) in zip(node["widgets_values"], widgets):
                assert value in kind if isinstance(kind, list) else isinstance(value, (float, str)), name
        else:
            assert f'"{node["type"]}"' in sources or f"class {node['type']}" in sources, node["type"]
