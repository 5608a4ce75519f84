"""The coverage table (docs/models.md) is what the installed diffusers has: every transformer class,
supported, refused with its reason, or not yet; patch refuses the refused ones with that reason."""

from pathlib import Path

import pytest
import torch

import diffusers
import na_accel
from na_accel.families import FAMILY_SPECS
from na_accel.models.coverage import coverage, documented_table, main, markdown, transformer_classes
from na_accel.families.refused import REFUSED

MODELS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "models.md"


@pytest.fixture(scope="module")
def rows():
    return coverage()


def bare(cls):
    """An instance of ``cls`` built without its __init__: the refusal looks at the type alone."""
    module = cls.__new__(cls)
    torch.nn.Module.__init__(module)
    return module


@pytest.mark.slow
def test_the_documented_table_is_the_generated_one(rows):
    assert documented_table(MODELS_PAGE) == markdown(rows), (
        "docs/models.md's coverage table is stale: python -m na_accel.models.coverage --write docs/models.md")


def test_every_transformer_class_of_diffusers_has_a_row(rows):
    import diffusers.models.transformers as package

    names = [row.class_name for row in rows]
    assert len(names) == len(set(names))
    assert names == sorted(cls.__name__ for cls in transformer_classes())
    assert {"FluxTransformer2DModel", "WanTransformer3DModel", "SanaTransformer2DModel"} <= set(names)
    for name in names:  # every row is a class diffusers has, under diffusers.models.transformers
        assert getattr(diffusers, name).__module__.startswith(package.__name__ + ".")


def test_every_family_is_a_supported_row_with_its_recipe(rows):
    supported = {row.class_name: row for row in rows if row.status == "supported"}
    for spec in FAMILY_SPECS:
        adapter = spec.adapter()
        row = supported[adapter.transformer_class.__name__]
        assert (row.family, row.recipe) == (spec.name, spec.recipe)
        assert row.pipelines or row.modular, f"{spec.name}: no diffusers pipeline takes {row.class_name}"


def test_refused_entries_are_real_classes_and_not_supported(rows):
    status = {row.class_name: row.status for row in rows}
    for name, reason in REFUSED.items():
        assert status.get(name) == "refused", f"refused.py names {name}, which diffusers {diffusers.__version__} lacks or a family supports"
        assert reason and "\n" not in reason
    assert list(REFUSED) == sorted(REFUSED)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_patch_refuses_a_refused_transformer_with_its_reason(name):
    transformer = bare(getattr(diffusers, name))
    with pytest.raises(na_accel.UnsupportedModelError) as caught:
        na_accel.patch(transformer, {"model": "flux", "default": {"kernel_size": [3, 3]}})
    assert str(caught.value) == f"{type(transformer).__name__}: {name} is not supported: {REFUSED[name]} (docs/models.md)"
    assert not transformer._forward_pre_hooks and not hasattr(transformer, "_na_accel_patch")


def test_patch_on_a_transformer_not_yet_supported_names_what_a_family_needs(rows):
    name = next(row.class_name for row in rows if row.status == "not yet")
    with pytest.raises(na_accel.UnsupportedModelError) as caught:
        na_accel.patch(bare(getattr(diffusers, name)), {"model": "flux", "default": {"kernel_size": [3, 3]}})
    message = str(caught.value)
    assert message.startswith(f"{name}: {name} is not supported: no na_accel model family handles it\n"
                              "supported transformers (recipe model family):\n  FluxTransformer2DModel ('flux')\n")
    assert "its attention modules and stock processor classes" in message
    assert "docs/extending.md#a-model-family" in message and "docs/models.md" in message


def test_the_table_lists_reasons_and_recipes(rows):
    table = markdown(rows)
    lines = table.splitlines()
    assert lines[0].startswith(f"Generated from diffusers {diffusers.__version__}: ")
    assert f"of {len(rows)} transformer classes." in lines[0]
    assert sum(line.startswith("| ") for line in lines) == len(rows) + 1  # a header and a row per class
    assert f"| SanaTransformer2DModel | refused: {REFUSED['SanaTransformer2DModel']} |" in table
    assert "| FluxTransformer2DModel | supported | `flux` | `flux_gna`" in table


def test_the_module_refuses_unknown_arguments(capsys):
    assert main(["--bogus"]) == 2
    assert "usage: python -m na_accel.models.coverage" in capsys.readouterr().err
