"""Packages that export on first use (``na_accel.lazy``): every export resolves to the object its
module defines, none shadows a submodule, and ``dir`` / ``__all__`` list them."""

import importlib
import pkgutil

import pytest

from na_accel.lazy import lazy_exports

LAZY_PACKAGES = ["na_accel", "na_accel.windows", "na_accel.kernels", "na_accel.families", "na_accel.speed"]


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_export_resolves_and_none_is_a_submodule_name(name):
    package = importlib.import_module(name)
    submodules = {info.name for info in pkgutil.iter_modules(package.__path__)}
    assert not set(package.__all__) & submodules, "an export named like a submodule is shadowed by it"
    assert len(set(package.__all__)) == len(package.__all__)
    for export in package.__all__:
        value = getattr(package, export)
        assert value is not None
        assert export in dir(package)
    # `from package import *` gives the same objects
    namespace: dict = {}
    exec(f"from {name} import *", namespace)
    assert all(namespace[export] is getattr(package, export) for export in package.__all__)


def test_an_export_is_the_defining_modules_object():
    import na_accel
    from na_accel.kernels import registry
    from na_accel.patching import patch

    assert na_accel.patch is patch
    assert importlib.import_module("na_accel.kernels").get_backend is registry.get_backend


def test_an_unknown_name_is_an_attribute_error_naming_the_package():
    import na_accel

    with pytest.raises(AttributeError, match="module 'na_accel' has no attribute 'pach'"):
        na_accel.pach  # noqa: B018


def test_lazy_exports_caches_what_it_imported(monkeypatch):
    import sys
    import types

    package = types.ModuleType("fake_package")
    package.__path__ = []
    module = types.ModuleType("fake_package.values")
    module.answer = object()
    monkeypatch.setitem(sys.modules, "fake_package", package)
    monkeypatch.setitem(sys.modules, "fake_package.values", module)
    package.__getattr__, package.__dir__, package.__all__ = lazy_exports("fake_package", {".values": ["answer"]})
    assert package.answer is module.answer
    assert vars(package)["answer"] is module.answer  # set on the package: later reads skip __getattr__
    assert package.__all__ == ["answer"]
