"""Where sparse attention pays: the cost model, the measured device profiles, the speed gate.

``problem`` counts the work of one joint-attention call, ``profiles`` holds the measured constants
of a device class, ``model`` turns both into estimated seconds, ``gate`` decides per call shape,
``fit`` derives constants from timings (``na-accel calibrate``, ``eval/fit_cost_profile.py``).
"""

from ..lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".gate": ["POLICIES", "GateDecision", "SpeedGate"],
    ".model": ["CostEstimate", "estimate_call"],
    ".problem": ["AttentionProblem", "SparseWork", "sparse_work"],
    ".profiles": ["CostProfile", "find_profile", "load_profile", "parse_profile"],
})
