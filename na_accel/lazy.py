"""Package exports imported on first use (PEP 562).

A package's ``__init__`` names what it exports and where it lives; the defining module is imported
when the name is first read. So ``import na_accel`` and the CLI's light commands (``--help``,
``recipes``, ``models``, ``estimate``) never import torch or diffusers, while
``from na_accel.kernels import get_backend`` works as before.

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {".registry": ["AUTO", "get_backend"]})
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Iterable, Mapping


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]], eager: Iterable[str] = ()
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``package``'s module ``__getattr__`` and ``__dir__``, and its ``__all__`` (``eager`` names, defined
    in the ``__init__`` itself, first). ``exports`` maps a module (relative to the package) to its names."""
    where = {name: module for module, names in exports.items() for name in names}
    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later reads skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__, [*eager, *where]
