"""Cost profiles: what dense and sparse attention cost on one device class, measured.

A profile holds, for one device (matched by name) and the dtypes it was measured in, the
constants of the cost model (``na_accel.speed.model``): dense attention's launch overhead and FLOP
rate, and per GNA backend its launch overhead, the FLOP rates of its full and masked tile pairs,
and the per-call overhead of a patched layer beyond the kernel. Where it comes from:

1. ``$NA_ACCEL_COST_PROFILE``: a profile file the user names (used for every device it matches);
2. the user's cache, written by ``na-accel calibrate`` (``$NA_ACCEL_CACHE_DIR/cost``, by default
   ``~/.cache/na_accel/cost``): one file per device, timed on the user's own GPU;
3. the profiles shipped in ``na_accel/speed/profiles/`` (measured by the project; each names the
   device, versions and result files it was fit from).

The first whose device matches and whose dtypes include the call's wins. Files are parsed as
hostile: a malformed one raises ``CostProfileError`` naming the file, the field and the value.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import CostProfileError

PROFILE_FORMAT = 1
SHIPPED_DIR = Path(__file__).with_name("profiles")
ENV_PROFILE = "NA_ACCEL_COST_PROFILE"
ENV_CACHE = "NA_ACCEL_CACHE_DIR"
DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class DenseCost:
    """Dense attention (the stock path): ``overhead_s + flops / flops_per_s``."""

    kernel: str  # which dense attention was timed, e.g. "cudnn" or "sdpa default"
    overhead_s: float
    flops_per_s: float


@dataclass(frozen=True)
class SparseCost:
    """A GNA backend: ``overhead_s + full / full_flops_per_s + partial / partial_flops_per_s``, plus
    the text queries' dense call and ``call_overhead_s`` (what a patched layer adds beyond its
    kernels: slicing, the text rows' copy, host work that the device waits for)."""

    overhead_s: float
    full_flops_per_s: float
    partial_flops_per_s: float
    call_overhead_s: float = 0.0


@dataclass(frozen=True)
class MeasuredShare:
    """Dense attention's share of one denoising step of a family at a token grid, measured on the
    profile's device: SDPA time per layer call (attention alone) x layers / step time."""

    family: str
    grid: tuple[int, ...]
    share: float
    source: str  # the result files it was computed from


@dataclass(frozen=True)
class CostProfile:
    device: str  # the device it was measured on (torch.cuda.get_device_name, or "cpu")
    matches: tuple[str, ...]  # device-name substrings it applies to (case-insensitive)
    dtypes: tuple[str, ...]  # dtypes it applies to ("bfloat16", "float16", "float32")
    dense: DenseCost
    backends: Mapping[str, SparseCost]
    margin: float = DEFAULT_MARGIN  # sparse runs only where estimated at least this much faster
    shared_memory: int | None = None  # bytes per block (the tiles the model counts depend on it)
    capability: int | None = None  # compute capability, 90 for 9.0 (so do the register caps on tiles)
    measured: str = ""  # when, with which versions, from which files
    attention_shares: tuple[MeasuredShare, ...] = ()
    source: str = field(default="", compare=False)  # where this profile was read from

    def applies_to(self, device_name: str, dtype: str) -> bool:
        name = device_name.lower()
        return dtype in self.dtypes and any(m.lower() in name for m in self.matches)

    def measured_share(self, family: str, grid: tuple[int, ...]) -> MeasuredShare | None:
        return next((m for m in self.attention_shares if m.family == family and m.grid == tuple(grid)), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("source")
        return {"format": PROFILE_FORMAT, **data, "matches": list(self.matches), "dtypes": list(self.dtypes),
                "backends": {name: asdict(cost) for name, cost in self.backends.items()},
                "attention_shares": [{**asdict(m), "grid": list(m.grid)} for m in self.attention_shares]}


# --------------------------------------------------------------------------------------------
# Parsing (files are hostile until parsed)
# --------------------------------------------------------------------------------------------


def parse_profile(data: Any, source: str) -> CostProfile:
    """A ``CostProfile`` from its JSON form; ``CostProfileError`` naming ``source`` and the field."""
    where = f"cost profile {source}"
    if not isinstance(data, dict):
        raise CostProfileError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != PROFILE_FORMAT:
        raise CostProfileError(f"{where}: format: {data.get('format')!r} is not supported; allowed: {PROFILE_FORMAT}")
    known = {"format", "device", "matches", "dtypes", "dense", "backends", "margin", "shared_memory", "capability",
             "measured",
             "attention_shares", "samples", "fit"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CostProfileError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(known)}")
    backends = _field(data, "backends", dict, where)
    if not backends:
        raise CostProfileError(f"{where}: backends: empty; give at least one GNA backend's costs")
    shared_memory = data.get("shared_memory")
    if shared_memory is not None and (isinstance(shared_memory, bool) or not isinstance(shared_memory, int)
                                      or shared_memory <= 0):
        raise CostProfileError(f"{where}: shared_memory: {shared_memory!r} is not a positive integer (bytes) or null")
    capability = data.get("capability")
    if capability is not None and (isinstance(capability, bool) or not isinstance(capability, int)
                                   or not 10 <= capability <= 200):
        raise CostProfileError(f"{where}: capability: {capability!r} is not a compute capability as one integer "
                               "(e.g. 90 for 9.0) or null")
    return CostProfile(
        device=_field(data, "device", str, where),
        matches=_strings(data, "matches", where),
        dtypes=_strings(data, "dtypes", where, allowed=("bfloat16", "float16", "float32")),
        dense=DenseCost(
            kernel=_field(_field(data, "dense", dict, where), "kernel", str, f"{where}: dense"),
            overhead_s=_number(data["dense"], "overhead_s", f"{where}: dense", minimum=0.0),
            flops_per_s=_number(data["dense"], "flops_per_s", f"{where}: dense", positive=True),
        ),
        backends={name: _sparse_cost(cost, f"{where}: backends.{name}") for name, cost in backends.items()},
        margin=_number(data, "margin", where, minimum=0.0, maximum=0.9, default=DEFAULT_MARGIN),
        shared_memory=shared_memory,
        capability=capability,
        measured=str(data.get("measured", "")),
        attention_shares=tuple(_share(item, f"{where}: attention_shares[{i}]")
                               for i, item in enumerate(_list(data, "attention_shares", where))),
        source=source,
    )


def _list(data: dict, name: str, where: str) -> list:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise CostProfileError(f"{where}: {name}: expected a list, got {value!r}")
    return value


def _share(data: Any, where: str) -> MeasuredShare:
    if not isinstance(data, dict):
        raise CostProfileError(f"{where}: expected an object, got {data!r}")
    grid = _field(data, "grid", list, where)
    if not grid or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in grid):
        raise CostProfileError(f"{where}: grid: expected positive integers, got {grid!r}")
    return MeasuredShare(_field(data, "family", str, where), tuple(grid),
                         _number(data, "share", where, minimum=0.0, maximum=1.0), _field(data, "source", str, where))


def _sparse_cost(data: Any, where: str) -> SparseCost:
    if not isinstance(data, dict):
        raise CostProfileError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"overhead_s", "full_flops_per_s", "partial_flops_per_s", "call_overhead_s"})
    if unknown:
        raise CostProfileError(f"{where}: unknown field(s) {unknown}")
    return SparseCost(
        overhead_s=_number(data, "overhead_s", where, minimum=0.0),
        full_flops_per_s=_number(data, "full_flops_per_s", where, positive=True),
        partial_flops_per_s=_number(data, "partial_flops_per_s", where, positive=True),
        call_overhead_s=_number(data, "call_overhead_s", where, minimum=0.0, default=0.0),
    )


def _field(data: dict, name: str, kind: type, where: str):
    if name not in data:
        raise CostProfileError(f"{where}: missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind):
        raise CostProfileError(f"{where}: {name}: expected {kind.__name__}, got {value!r}")
    return value


def _strings(data: dict, name: str, where: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    values = _field(data, name, list, where)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise CostProfileError(f"{where}: {name}: expected a non-empty list of strings, got {values!r}")
    if allowed is not None and any(v not in allowed for v in values):
        raise CostProfileError(f"{where}: {name}: {values!r}; allowed values: {list(allowed)}")
    return tuple(values)


def _number(data: dict, name: str, where: str, *, minimum: float | None = None, maximum: float | None = None,
            positive: bool = False, default: float | None = None) -> float:
    if name not in data and default is not None:
        return default
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CostProfileError(f"{where}: {name}: expected a finite number, got {value!r}")
    if (positive and value <= 0) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = "> 0" if positive else f"in [{minimum}, {maximum if maximum is not None else 'inf'}]"
        raise CostProfileError(f"{where}: {name}: {value!r} is out of range; allowed: {bounds}")
    return float(value)


def load_profile(path: str | os.PathLike) -> CostProfile:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CostProfileError(f"cost profile {path}: can't read it: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CostProfileError(f"cost profile {path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_profile(data, str(path))


# --------------------------------------------------------------------------------------------
# Finding the profile of a device
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where ``na-accel calibrate`` keeps the user's profiles."""
    root = os.environ.get(ENV_CACHE)
    return (Path(root) if root else Path.home() / ".cache" / "na_accel") / "cost"


def cached_profile_path(device_name: str) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in device_name.lower()).strip("-") or "device"
    return cache_dir() / f"{slug}.json"


@functools.lru_cache(maxsize=None)
def shipped_profiles() -> tuple[CostProfile, ...]:
    return tuple(load_profile(path) for path in sorted(SHIPPED_DIR.glob("*.json")))


def find_profile(device_name: str, dtype: str) -> CostProfile | None:
    """The profile that applies to ``device_name`` in ``dtype`` (the user's first), or None."""
    explicit = os.environ.get(ENV_PROFILE)
    if explicit:
        candidates = [_cached_load(explicit)]
    else:
        cached = cached_profile_path(device_name)
        candidates = [_cached_load(str(cached))] if cached.is_file() else []
        candidates += shipped_profiles()
    return next((p for p in candidates if p.applies_to(device_name, dtype)), None)


@functools.lru_cache(maxsize=64)
def _cached_load_at(path: str, mtime_ns: int) -> CostProfile:
    return load_profile(path)


def _cached_load(path: str) -> CostProfile:
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise CostProfileError(f"cost profile {path}: can't read it: {exc.strerror}") from None
    return _cached_load_at(path, mtime)


__all__ = ["CostProfile", "DenseCost", "MeasuredShare", "SparseCost", "cache_dir", "cached_profile_path", "find_profile",
           "load_profile", "parse_profile", "shipped_profiles"]
