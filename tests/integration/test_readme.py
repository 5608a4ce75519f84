"""The README's offline Python example runs exactly as written (so it can't rot)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "## Try it in Python, offline"


def offline_example() -> str:
    """The first ```python block of the README's offline section."""
    text = README.read_text()
    assert HEADING in text, f"README.md has no {HEADING!r} section"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"README.md's {HEADING!r} section has no python block"
    return match.group(1)


def test_the_offline_example_runs_as_written_and_shows_sparse_attention(capsys):
    exec(compile(offline_example(), str(README), "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    sparse = re.search(r"totals: sparse: (\d+)", out)
    assert sparse and int(sparse.group(1)) > 0, out  # describe's totals: GNA ran
    assert "windows run: window" in out  # and which window it ran


def test_the_presets_table_matches_the_presets_defaults():
    """Each row's default size and steps are the call helper's, its dense steps the recipe's."""
    import na_accel
    from na_accel.tiny import TINY_PIPELINES

    section = README.read_text().split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r'^\| `"([^"]+)"` \| [^|]+ \| `(\w+)` \| ([^|]+) \| [^|]+ \|$', section, re.M)
    assert {name for name, _, _ in rows} == set(TINY_PIPELINES)
    for name, recipe, text in rows:
        defaults = TINY_PIPELINES[name][1]()
        size = f"{defaults['height']}x{defaults['width']}"
        if "num_frames" in defaults:
            size += f" x {defaults['num_frames']} frames"
        expected = f"{size}, {defaults['num_inference_steps']}"
        dense_steps = na_accel.load_recipe(recipe).dense_steps
        if dense_steps:
            expected += f" ({dense_steps} dense)"
        assert text.strip() == expected, name
