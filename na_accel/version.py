"""The package's version, in a module of its own so that code inside the package reads it without
importing the package face (``na_accel/__init__.py``)."""

__version__ = "0.1.0"
