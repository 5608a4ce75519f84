"""JSON results stay standard JSON: non-finite floats become strings, everything else is kept."""

import json
import math

from na_accel.outputs.json_files import json_safe, write_json


def test_non_finite_floats_become_strings_at_any_depth():
    data = {"psnr": math.inf, "runs": [1.5, -math.inf, {"x": math.nan}], "pair": (2, math.inf), "ok": True}
    assert json_safe(data) == {"psnr": "inf", "runs": [1.5, "-inf", {"x": "nan"}], "pair": [2, "inf"], "ok": True}


def test_the_file_is_standard_json_indented_with_one_trailing_newline(tmp_path):
    path = write_json(tmp_path / "deep" / "metrics.json", {"psnr": math.inf, "ssim": 0.5, "name": "a"})
    text = path.read_text()
    assert text.endswith("}\n") and not text.endswith("\n\n") and "\n  " in text
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name))) == {
        "psnr": "inf", "ssim": 0.5, "name": "a"}
