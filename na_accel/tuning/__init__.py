"""Recipes tuned on the user's own weights: measure candidate windows inside real calls, pick the
cheapest within an error budget, write a normal recipe (``na_accel.tune``, ``na-accel tune``)."""

from .api import MAX_QUERY_ROWS, TuneResult, check_max_error, tune

__all__ = ["MAX_QUERY_ROWS", "TuneResult", "check_max_error", "tune"]
