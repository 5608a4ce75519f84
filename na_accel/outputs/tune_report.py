"""The HTML report of ``na_accel.tune``: one self-contained file, its pictures inline SVG.

``write_tune_report`` renders ``TuneResult.to_dict()``: the header lines, the budget and the
error norm, the dense steps, tune's attention speed-up estimate (``SPEEDUP_NAME``); a heat map (one row per layer, one
column per denoising step, colour = the chosen window's error at that step over the budget, and a
colour bar under it from the lowest to the highest error shown, its values at the ends); a
per-layer table with a small picture of each window on the token grid; the layers and calls that
were not measured; and, when given, an end-to-end comparison's metrics. No network, no scripts, no
external files; every string from the inputs goes through ``html.escape``.
"""

from __future__ import annotations

import colorsys
import html
import math
from pathlib import Path
from typing import Any

from ..tuning.tuned_recipe import SPEEDUP_DEFINITION, SPEEDUP_NAME

CELL_W, CELL_H = 24, 16  # heat-map cell size in px
SCALE_STOPS, SCALE_STOP_W, SCALE_H = 32, 8, 14  # the heat map's colour bar: stops, px per stop, bar height
ERROR_SCALE_NAME = "chosen window's attention error (relative to dense)"
GREY = "#c8c8c8"  # dense step, dense layer or not measured
STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px}th{background:#f0f0f0}
.num{text-align:right;font-variant-numeric:tabular-nums}svg text{font-family:monospace;font-size:11px}
.note{color:#555;font-size:13px}"""


def _e(value: Any) -> str:
    """Any value as escaped text (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def _num(value: Any, spec: str = ".3g", missing: str = "—") -> str:
    return missing if not isinstance(value, (int, float)) or isinstance(value, bool) else format(value, spec)


def _speedup(cost: Any) -> str:
    return f"{1.0 / cost:.2f}x" if isinstance(cost, (int, float)) and cost > 0 else "—"


def error_colour(error: float | None, budget: float | None) -> str:
    """Green well below the budget, yellow near it, red at it, dark red over it; grey if unknown."""
    if error is None or not isinstance(budget, (int, float)) or math.isnan(error):
        return GREY
    ratio = error / budget if budget > 0 else (0.0 if error <= 0 else math.inf)
    if ratio > 1.0:
        return "#8b0000"
    hue = (1.0 - ratio**2) / 3.0  # 1/3 = green, 1/6 = yellow, 0 = red
    r, g, b = colorsys.hls_to_rgb(hue, 0.5, 0.85)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _dense_steps(result: dict) -> set[int]:
    """The steps every layer runs dense: the first ``dense_steps`` and the last ``dense_final_steps``."""
    steps = int(result.get("steps") or 0)
    first, last = int(result.get("dense_steps") or 0), int(result.get("dense_final_steps") or 0)
    return {s for s in range(steps) if s < first or s >= steps - last}


def _budget(result: dict) -> float | None:
    budget = result.get("max_error")
    if budget is None:  # older dicts: the recipe's tune metadata holds it
        budget = ((result.get("recipe") or {}).get("metadata") or {}).get("tune", {}).get("max_error")
    return budget if isinstance(budget, (int, float)) else None


def _cell(layer: dict, step: int, dense: set[int], budget: float | None) -> tuple[str, str, float | None]:
    """(colour, tooltip, error or None where the cell is grey) of one heat-map cell."""
    step_errors = layer.get("step_errors") or []
    error = step_errors[step] if step < len(step_errors) else None
    if layer.get("chosen") is None:
        return GREY, "dense layer", None
    if step in dense:
        return GREY, "dense step", None
    if not isinstance(error, (int, float)) or math.isnan(error):
        return GREY, "not measured", None
    return error_colour(error, budget), f"error {error:.4g}", float(error)


def _scale_title(budget: float | None) -> str:
    return f"{ERROR_SCALE_NAME}; colour: error / budget ({_num(budget, 'g')})"


def _colour_scale(x: float, y: float, low: float, high: float, budget: float | None) -> list[str]:
    """The heat map's colour bar: ``SCALE_STOPS`` swatches from the lowest to the highest error shown
    (its first and last are the colours of those cells), their values at the ends, the quantity named
    above it, a tick at the budget where it lies within."""
    bar_w = SCALE_STOPS * SCALE_STOP_W
    parts = [f'<g class="colour-scale" data-min="{low:.6g}" data-max="{high:.6g}">',
             f'<text x="{x}" y="{y + 10}">{_e(_scale_title(budget))}</text>']
    bar_y = y + 16
    for i in range(SCALE_STOPS):
        value = low + (high - low) * i / (SCALE_STOPS - 1)
        parts.append(f'<rect class="scale-stop" data-value="{value:.6g}" x="{x + i * SCALE_STOP_W}" y="{bar_y}" '
                     f'width="{SCALE_STOP_W}" height="{SCALE_H}" fill="{error_colour(value, budget)}"/>')
    parts.append(f'<rect x="{x}" y="{bar_y}" width="{bar_w}" height="{SCALE_H}" fill="none" stroke="#555"/>')
    if isinstance(budget, (int, float)) and low < budget < high:
        bx = x + bar_w * (budget - low) / (high - low)
        parts.append(f'<line x1="{bx:.1f}" y1="{bar_y - 3}" x2="{bx:.1f}" y2="{bar_y + SCALE_H + 3}" stroke="#000"/>')
    parts.append(f'<text class="scale-min" x="{x}" y="{bar_y + SCALE_H + 13}">min {low:.4g}</text>'
                 f'<text class="scale-max" x="{x + bar_w}" y="{bar_y + SCALE_H + 13}" text-anchor="end">'
                 f'max {high:.4g}</text></g>')
    return parts


def heat_map_svg(result: dict, legend: bool = True) -> str:
    """Layers x steps, each cell coloured by the chosen window's error at that step over the budget;
    under it (``legend``) a colour bar from the lowest to the highest error shown, named, with its values."""
    layers, steps, budget = result.get("layers") or [], int(result.get("steps") or 0), _budget(result)
    dense = _dense_steps(result)
    label_w = min(420, 10 + 7 * max((len(str(layer.get("name", ""))) for layer in layers), default=4))
    top = 34
    width, height = label_w + steps * CELL_W + 10, top + len(layers) * CELL_H + 8
    shown = [e for layer in layers for s in range(steps) if (e := _cell(layer, s, dense, budget)[2]) is not None]
    scale = legend and bool(shown)
    if scale:
        scale_y = height
        height += 16 + SCALE_H + 20
        width = max(width, 10 + SCALE_STOPS * SCALE_STOP_W + 10, 10 + 7 * len(_scale_title(budget)) + 10)
    parts = [f'<svg class="heat-map" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    for s in range(steps):  # column legend: step numbers, dense columns marked "D" and outlined
        x = label_w + s * CELL_W
        parts.append(f'<text x="{x + CELL_W / 2}" y="{top - 6}" text-anchor="middle">{s}</text>')
        if s in dense:
            parts.append(f'<text class="dense-step" x="{x + CELL_W / 2}" y="{top - 20}" text-anchor="middle" '
                         f'fill="#555">D</text>')
    parts.append(f'<text x="{label_w - 6}" y="{top - 6}" text-anchor="end" fill="#555">step</text>')
    for row, layer in enumerate(layers):
        name, y = str(layer.get("name", "?")), top + row * CELL_H
        label = name if len(name) * 7 <= label_w - 10 else "…" + name[-((label_w - 24) // 7):]
        parts.append(f'<text x="{label_w - 6}" y="{y + CELL_H - 4}" text-anchor="end">'
                     f'<title>{_e(name)}</title>{_e(label)}</text>')
        for s in range(steps):
            colour, tip, _ = _cell(layer, s, dense, budget)
            parts.append(f'<rect class="hm-cell" data-layer="{_e(name)}" data-step="{s}" '
                         f'x="{label_w + s * CELL_W}" y="{y}" width="{CELL_W - 1}" height="{CELL_H - 1}" '
                         f'fill="{colour}"><title>{_e(name)}, step {s}: {_e(tip)}</title></rect>')
    for s in sorted(dense):  # a dashed outline around every dense column
        parts.append(f'<rect x="{label_w + s * CELL_W - 0.5}" y="{top - 1}" width="{CELL_W}" '
                     f'height="{len(layers) * CELL_H + 1}" fill="none" stroke="#333" stroke-dasharray="3,2"/>')
    if scale:
        parts += _colour_scale(10, scale_y, min(shown), max(shown), budget)
    parts.append("</svg>")
    return "".join(parts)


def colour_legend_svg(budget: float | None) -> str:
    """Swatches from 0 to over the budget, and grey."""
    stops = [(0.0, "0"), (0.25, "¼ budget"), (0.5, "½ budget"), (0.75, "¾ budget"), (1.0, "budget"),
             (1.5, "over budget")]
    parts = ['<svg class="colour-legend" xmlns="http://www.w3.org/2000/svg" width="640" height="22">']
    x = 0
    for ratio, text in stops:
        colour = error_colour(ratio * (budget or 1.0), budget or 1.0)
        parts.append(f'<rect x="{x}" y="3" width="14" height="14" fill="{colour}"/>'
                     f'<text x="{x + 18}" y="14">{_e(text)}</text>')
        x += 26 + 7 * len(text)
    parts.append(f'<rect x="{x}" y="3" width="14" height="14" fill="{GREY}"/>'
                 f'<text x="{x + 18}" y="14">dense / not measured</text></svg>')
    return "".join(parts)


def window_svg(grid: list[int] | None, kernel: list[int] | None) -> str:
    """The token grid (its last two axes) with the window's kernel box drawn in its corner."""
    if not grid or not kernel or len(grid) != len(kernel) or len(grid) < 2:
        return _e("×".join(map(str, kernel))) if kernel else ""
    (gh, gw), (kh, kw) = grid[-2:], kernel[-2:]
    scale = 40.0 / max(gh, gw, 1)
    w, h = max(gw * scale, 1), max(gh * scale, 1)
    kw_px, kh_px = min(kw, gw) * scale, min(kh, gh) * scale
    svg = (f'<svg class="window" xmlns="http://www.w3.org/2000/svg" width="{w + 2:.0f}" height="{h + 2:.0f}">'
           f'<rect x="1" y="1" width="{w:.1f}" height="{h:.1f}" fill="#f4f4f4" stroke="#999"/>'
           f'<rect x="1" y="1" width="{kw_px:.1f}" height="{kh_px:.1f}" fill="#4a7bd0" fill-opacity="0.7"/>'
           f'<title>kernel {_e("×".join(map(str, kernel)))} on grid {_e("×".join(map(str, grid)))}</title></svg>')
    if len(grid) > 2:  # the leading axes' kernel as text
        svg += f' <span class="note">{_e("×".join(map(str, kernel[:-2])))} of {_e("×".join(map(str, grid[:-2])))}'
        svg += " frames</span>" if len(grid) == 3 else "</span>"
    return svg


def _layers_table(result: dict) -> str:
    grid = result.get("token_grid")
    rows = ["<table class=\"layers\"><tr><th>layer</th><th>window</th><th>error</th><th>speed-up estimate (the layer's calls)</th>"
            "<th>on the grid</th></tr>"]
    for layer in result.get("layers") or []:
        chosen, candidates = layer.get("chosen"), layer.get("candidates") or []
        kernel = candidates[chosen].get("kernel_size") if chosen is not None and chosen < len(candidates) else None
        rows.append(f'<tr><td>{_e(layer.get("name", "?"))}</td><td>{_e(layer.get("window", "dense"))}</td>'
                    f'<td class="num">{_num(layer.get("error"), ".4g")}</td>'
                    f'<td class="num">{_speedup(layer.get("cost"))}</td>'
                    f'<td>{window_svg(grid, kernel) if kernel else "dense"}</td></tr>')
    return "".join(rows) + "</table>"


def _compare_table(compare: dict) -> str:
    averages = compare.get("averages") or {}
    outputs = [o for o in compare.get("outputs") or [] if isinstance(o, dict)]
    keys = list(averages)
    for output in outputs:
        keys += [k for k in output.get("metrics") or {} if k not in keys]
    rows = ['<table class="compare"><tr><th>prompt</th>' + "".join(f"<th>{_e(k)}</th>" for k in keys) + "</tr>"]

    def row(label: str, metrics: dict, bold: bool = False) -> str:
        cell = "th" if bold else "td"
        return (f"<tr><{cell}>{_e(label)}</{cell}>"
                + "".join(f'<td class="num">{_e(_num(metrics.get(k), ".4g"))}</td>' for k in keys) + "</tr>")

    rows += [row(str(o.get("prompt", "?")), o.get("metrics") or {}) for o in outputs]
    if averages:
        rows.append(row("average", averages, bold=True))
    return "".join(rows) + "</table>"


def _unmeasured(result: dict) -> str:
    layers, calls = result.get("unmeasured_layers") or {}, result.get("unmeasured_calls") or {}
    if not layers and not calls:
        return ""
    items = [f"<li>layer {_e(name)}: {_e(why)}</li>" for name, why in layers.items()]
    items += [f"<li>{_e(count)} call(s): {_e(reason)}</li>" for reason, count in calls.items()]
    return f'<h2>Not measured</h2><ul class="unmeasured">{"".join(items)}</ul>'


def write_tune_report(path: Path, result: dict, *, title: str, header: dict[str, Any],
                      compare: dict | None = None) -> Path:
    """Write the tune's HTML report to ``path`` (its folder made if missing) and return ``path``."""
    path = Path(path)
    budget, dense = _budget(result), sorted(_dense_steps(result))
    lines = dict(header)
    lines["budget (max error)"] = _num(budget, "g")
    lines["error norm"] = result.get("error_norm", "—")
    lines["dense steps"] = (f"first {result.get('dense_steps') or 0}, last {result.get('dense_final_steps') or 0}"
                            f" of {result.get('steps', '?')}" + (f" (steps {', '.join(map(str, dense))})"
                                                                 if dense else ""))
    lines[SPEEDUP_NAME] = _speedup(result.get("estimated_attention_cost"))
    lines["query rows measured"] = result.get("query_rows", "—")
    if result.get("token_grid"):
        lines["token grid"] = "×".join(map(str, result["token_grid"]))
    if result.get("recipe_hash"):
        lines["recipe hash"] = result["recipe_hash"]
    body = [f"<h1>{_e(title)}</h1><table class=\"header\">"]
    body += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in lines.items()]
    body.append(f'</table><p class="note">{_e(SPEEDUP_NAME)}: {_e(SPEEDUP_DEFINITION)}.</p>')
    body.append("<h2>Error per layer and step</h2>"
                '<p class="note">Colour: the chosen window\'s error at that step over the budget; '
                "D = a dense step (outlined).</p>")
    body += [heat_map_svg(result), "<br>", colour_legend_svg(budget), "<h2>Layers</h2>", _layers_table(result)]
    body.append(_unmeasured(result))
    if compare is not None:
        body += ["<h2>End-to-end comparison</h2>", _compare_table(compare)]
    document = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
                f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path


__all__ = ["ERROR_SCALE_NAME", "error_colour", "heat_map_svg", "window_svg", "write_tune_report"]
