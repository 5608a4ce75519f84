"""Where sparse attention pays: the cost model, the measured device profiles, the speed gate.

``problem`` counts the work of one joint-attention call, ``profiles`` holds the measured constants
of a device class, ``model`` turns both into estimated seconds, ``gate`` decides per call shape,
``fit`` derives constants from timings (``na-accel calibrate``, ``eval/fit_cost_profile.py``).
"""

from .gate import POLICIES, GateDecision, SpeedGate
from .model import CostEstimate, estimate_call
from .problem import AttentionProblem, SparseWork, sparse_work
from .profiles import CostProfile, find_profile, load_profile, parse_profile

__all__ = ["POLICIES", "AttentionProblem", "CostEstimate", "CostProfile", "GateDecision", "SparseWork",
           "SpeedGate", "estimate_call", "find_profile", "load_profile", "parse_profile", "sparse_work"]
