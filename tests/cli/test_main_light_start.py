"""The CLI's light commands and ``import na_accel`` start without torch or diffusers (issue 24, item 6).

Each case runs in a fresh interpreter and reports which heavy packages it imported: a check of what
was imported, not of how long it took (no wall-clock assertions). Before the lazy exports,
``na-accel --help`` imported torch and diffusers (3.3 s).
"""

import json
import subprocess
import sys

import pytest

import na_accel

HEAVY = ("torch", "diffusers", "transformers", "natten", "triton")
PROBE = """
import json, sys
from na_accel.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("\\n@@" + json.dumps({"code": code, "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


def _run(argv: list[str], tmp_path) -> tuple[dict, str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    report = json.loads(result.stdout.rsplit("\n@@", 1)[1])
    return report, result.stdout + result.stderr


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["--version"],
    ["recipes"],
    ["models"],
    ["bench", "--help"],
    ["compare", "--help"],
    ["demo", "--help"],
    ["estimate", "--recipe", "flux_gna", "--height", "1024", "--width", "1024"],
    ["estimate", "--recipe", "wan_gna", "--model", "tiny-wan", "--backend", "triton", "--json", "e.json"],
    ["estimate", "--recipe", "hunyuan_video_gna", "--backend", "cutlass-fna"],
    ["estimate", "--recipe", "flux_gan"],  # an error is light too
], ids=" ".join)
def test_a_light_command_imports_no_torch_and_no_diffusers(argv, tmp_path):
    report, output = _run(argv, tmp_path)
    assert report["code"] in (0, 2) and report["heavy"] == [], output
    if argv[0] == "estimate" and argv[-1] != "flux_gan":
        assert report["code"] == 0 and "ESTIMATE (not a measurement)" in output, output


def test_version_prints_the_package_version(tmp_path):
    report, output = _run(["--version"], tmp_path)
    assert report["code"] == 0 and output.startswith(f"na-accel {na_accel.__version__}\n")


def test_import_na_accel_is_light_and_its_exports_still_resolve():
    code = ("import sys, na_accel; light = sorted(m for m in %r if m in sys.modules); "
            "na_accel.patch; heavy = 'torch' in sys.modules; print(light, heavy)") % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["[]", "True"]  # nothing heavy until an export that needs it is read
