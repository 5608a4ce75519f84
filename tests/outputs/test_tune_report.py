"""The tune's HTML report: self-contained, parseable, one heat-map cell per layer and step, escaped."""

import html
import re
from html.parser import HTMLParser

from na_accel.outputs.tune_report import GREY, ERROR_SCALE_NAME, error_colour, heat_map_svg, write_tune_report
from na_accel.tuning.tuned_recipe import SPEEDUP_DEFINITION

VOID = {"meta", "br", "hr", "img", "input", "link"}
EVIL = "blocks.1.<script>alert(1)</script>"


class Balance(HTMLParser):
    """Every non-void start tag closed by its own end tag, in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def candidate(kernel, cost):
    return {"window": f"window {kernel[0]}x{kernel[-1]}", "kernel_size": kernel, "stride": kernel, "cost": cost,
            "base": False}


def result_2d():
    return {
        "recipe": {"metadata": {"tune": {"max_error": 0.5}}}, "recipe_hash": "abc123", "token_grid": [32, 32],
        "steps": 4, "dense_steps": 1, "dense_final_steps": 1, "estimated_attention_cost": 0.25,
        "query_rows": "all 1024 visual query rows of every call", "error_norm": "relative Frobenius error",
        "max_error": 0.5,
        "layers": [
            {"name": "transformer_blocks.0.attn", "candidates": [candidate([8, 8], 0.118), candidate([8, 24], 0.236)],
             "errors": [[0.9, 0.95, 1.05, 1.0], [0.4, 0.44, 0.49, 0.5]], "chosen": 1,
             "window": "window 8x24 stride 8x8 dilation 1x1", "error": 0.49,
             "step_errors": [None, 0.44, None, None], "cost": 0.236},
            {"name": "transformer_blocks.1.attn", "candidates": [candidate([8, 8], 0.118)],
             "errors": [[0.9, 0.9, 0.9, 0.9]], "chosen": None, "window": "dense", "error": 0.0,
             "step_errors": [None, None, None, None], "cost": 1.0},
            {"name": EVIL, "candidates": [candidate([16, 16], 0.3)], "errors": [[None, 0.1, None, None]],
             "chosen": 0, "window": "window 16x16 stride 8x8 dilation 1x1", "error": None,
             "step_errors": [None, 0.1, None, None], "cost": 0.3},
        ],
        "unmeasured_layers": {"single_blocks.3.attn": "no call reached it"}, "unmeasured_calls": {"text only": 3},
    }


def result_3d():
    return {
        "recipe": {}, "recipe_hash": "def456", "token_grid": [8, 16, 16], "steps": 3, "dense_steps": 0,
        "dense_final_steps": 0, "estimated_attention_cost": 0.5, "query_rows": "64 rows", "max_error": 0.1,
        "error_norm": "relative Frobenius error", "unmeasured_layers": {}, "unmeasured_calls": {},
        "layers": [{"name": "blocks.0.attn1", "candidates": [candidate([4, 8, 8], 0.5)],
                    "errors": [[0.05, 0.2, 0.02]], "chosen": 0, "window": "window 4x8x8 stride 4x8x8 dilation 1x1x1",
                    "error": 0.2, "step_errors": [0.05, 0.2, 0.02], "cost": 0.5}],
    }


def write(tmp_path, result, **kwargs):
    path = write_tune_report(tmp_path / "sub" / "tune.html", result, title="Tune <flux>",
                             header={"model": "tiny-flux", "steps": result["steps"]}, **kwargs)
    text = path.read_text(encoding="utf-8")
    parser = Balance()
    parser.feed(text)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    return text, parser.tags


def cells(tags):
    return [attrs for tag, attrs in tags if tag == "rect" and attrs.get("class") == "hm-cell"]


def test_report_holds_header_layers_windows_and_one_cell_per_layer_and_step(tmp_path):
    result = result_2d()
    text, tags = write(tmp_path, result)
    assert text.startswith("<!DOCTYPE html>")
    assert "Tune &lt;flux&gt;" in text and "tiny-flux" in text
    assert "relative Frobenius error" in text and "all 1024 visual query rows of every call" in text
    # the one speed figure, under its name and with its definition (na_accel.tuning.tuned_recipe)
    assert "<th>tune&#x27;s attention speed-up estimate</th><td>4.00x</td>" in text  # 1 / 0.25
    assert html.escape(SPEEDUP_DEFINITION, quote=True) in text
    assert "4.24x" in text  # layer 0: 1 / 0.236
    for layer in result["layers"][:2]:
        assert layer["name"] in text
    assert "window 8x24 stride 8x8 dilation 1x1" in text and "window 16x16 stride 8x8 dilation 1x1" in text
    found = cells(tags)
    assert len(found) == 3 * 4
    assert {(c["data-layer"], c["data-step"]) for c in found} == {
        (layer["name"], str(s)) for layer in result["layers"] for s in range(4)}
    assert len(re.findall(r'class="dense-step"', text)) == 2  # steps 0 and 3 marked
    assert "no call reached it" in text and "single_blocks.3.attn" in text and "text only" in text
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched


def test_cells_are_grey_where_dense_or_unmeasured_and_coloured_where_measured(tmp_path):
    text, tags = write(tmp_path, result_2d())
    by_key = {(c["data-layer"], c["data-step"]): c["fill"] for c in cells(tags)}
    grey = error_colour(None, 0.5)
    assert by_key[("transformer_blocks.0.attn", "1")] == error_colour(0.44, 0.5) != grey
    assert by_key[("transformer_blocks.0.attn", "0")] == grey  # dense step
    assert by_key[("transformer_blocks.1.attn", "1")] == grey  # dense layer
    assert by_key[(EVIL, "2")] == grey  # a sparse step, not measured


def test_colours_run_green_to_red_with_the_budget():
    green, near, at, over = (error_colour(e, 0.1) for e in (0.0, 0.08, 0.1, 0.2))
    assert int(green[3:5], 16) > int(green[1:3], 16)  # green dominates well below the budget
    assert int(near[1:3], 16) > 0x80 and int(near[3:5], 16) > 0x80  # yellow-orange near it
    assert int(at[1:3], 16) > int(at[3:5], 16)  # red dominates at the budget
    assert len({green, near, at, over}) == 4
    assert error_colour(0.0, 0.0) != error_colour(0.01, 0.0)


def test_layer_name_with_markup_is_escaped(tmp_path):
    text, tags = write(tmp_path, result_2d())
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not any(tag == "script" for tag, _ in tags)


def test_3d_grid_draws_the_last_two_axes_and_writes_the_first(tmp_path):
    text, tags = write(tmp_path, result_3d())
    assert len(cells(tags)) == 3
    assert "4 of 8 frames" in text
    window = [attrs for tag, attrs in tags if tag == "rect" and attrs.get("fill") == "#4a7bd0"]
    assert len(window) == 1 and float(window[0]["width"]) == 20.0  # 8 of 16 on a 40 px grid
    assert "class=\"dense-step\"" not in text


def test_compare_table_only_when_given_and_tolerant_of_missing_keys(tmp_path):
    text, _ = write(tmp_path, result_2d())
    assert 'class="compare"' not in text
    compare = {"averages": {"psnr": 31.2, "ssim": 0.95},
               "outputs": [{"prompt": "a <cat>", "metrics": {"psnr": 30.1}}, {"prompt": "a dog"}, "junk"]}
    text, tags = write(tmp_path, result_2d(), compare=compare)
    assert 'class="compare"' in text and "31.2" in text and "30.1" in text and "0.95" in text
    assert "a &lt;cat&gt;" in text and "a dog" in text
    text, _ = write(tmp_path, result_2d(), compare={})
    assert 'class="compare"' in text


def test_missing_optional_fields_still_render(tmp_path):
    result = result_3d()
    for key in ("max_error", "token_grid", "query_rows", "unmeasured_layers", "unmeasured_calls"):
        result.pop(key)
    text, tags = write(tmp_path, result)
    assert len(cells(tags)) == 3 and "blocks.0.attn1" in text
    assert "Not measured" not in text


def svg_tags(svg: str):
    parser = Balance()
    parser.feed(svg)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    return parser.tags


def test_the_heat_map_has_a_colour_scale_whose_ends_are_the_maps_extremes():
    """Issue #37: the heat map carries its own colour bar (the quantity named, min and max given), and
    the picture grows by it; the bar's end colours are the colours of the lowest and highest cells."""
    result = result_3d()  # errors 0.05, 0.2, 0.02 over a budget of 0.1: green to dark red
    plain, scaled = svg_tags(heat_map_svg(result, legend=False)), svg_tags(heat_map_svg(result))
    (_, plain_svg), (_, scaled_svg) = plain[0], scaled[0]
    assert int(scaled_svg["height"]) > int(plain_svg["height"])
    assert int(scaled_svg["width"]) >= int(plain_svg["width"])
    cell_fills = {float(c["data-step"]): c["fill"] for c in cells(scaled)}
    stops = [attrs for tag, attrs in scaled if tag == "rect" and attrs.get("class") == "scale-stop"]
    assert len(stops) >= 8
    # the extremes: step 2 holds the lowest error (0.02), step 1 the highest (0.2)
    assert stops[0]["fill"] == cell_fills[2] == error_colour(0.02, 0.1)
    assert stops[-1]["fill"] == cell_fills[1] == error_colour(0.2, 0.1)
    assert float(stops[0]["data-value"]) == 0.02 and float(stops[-1]["data-value"]) == 0.2
    values = [float(s["data-value"]) for s in stops]
    assert values == sorted(values)
    text = heat_map_svg(result)
    assert html.escape(ERROR_SCALE_NAME, quote=True) in text
    assert ">min 0.02</text>" in text and ">max 0.2</text>" in text
    assert text.count("<line ") == 1  # the budget (0.1) lies inside the range: one tick


def test_the_colour_scale_covers_only_coloured_cells_and_is_left_out_when_none_is():
    result = result_2d()  # coloured cells: 0.44 (layer 0, step 1) and 0.1 (EVIL, step 1); the rest grey
    tags = svg_tags(heat_map_svg(result))
    stops = [attrs for tag, attrs in tags if tag == "rect" and attrs.get("class") == "scale-stop"]
    assert (stops[0]["fill"], stops[-1]["fill"]) == (error_colour(0.1, 0.5), error_colour(0.44, 0.5))
    assert GREY not in {s["fill"] for s in stops}
    for layer in result["layers"]:
        layer["chosen"] = None  # all dense: nothing coloured, nothing to scale
    assert heat_map_svg(result) == heat_map_svg(result, legend=False)
    assert "scale-stop" not in heat_map_svg(result)
