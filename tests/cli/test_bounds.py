"""Every size and count is bounded where it enters (issue #23): the command lines that used to
exhaust memory or end in raw numpy / torch / diffusers errors now end in one clear line and exit 2,
before any model is built. All of them run in one bounded child (4 GB address space, 90 s), so a
regression fails here instead of taking the machine down."""

import json

from bounded import run_bounded_code

GIB = 2**30

# argv -> what the one error line must say (the flag, the value and the bound, written out here).
CASES = {
    ("estimate", "--recipe", "hunyuan_video_gna", "--frames", "1000001"):
        "--frames: 1000001 is not valid for hunyuan_video; allowed: 4k+1 frames in [1, 262141]",
    ("estimate", "--recipe", "hunyuan_video_gna", "--height", "10000000"):
        "--height: 10000000 is not valid for hunyuan_video; allowed: a multiple of 16 pixels in [16, 1048576]",
    ("estimate", "--recipe", "flux_gna", "--height", "1048576", "--width", "1048576"):
        "allowed: at most 4,194,304 tokens",
    ("bench", "tiny-flux", "--recipe", "flux_gna", "--steps", "1000000000"):
        "--steps: 1000000000 is not valid; allowed: an integer in [1, 1000]",
    ("bench", "tiny-flux", "--recipe", "flux_gna", "--batch", "1000000"):
        "--batch: 1000000 is not valid; allowed: an integer in [1, 256]",
    ("bench", "tiny-flux", "--recipe", "flux_gna", "--repeats", "1000000"):
        "--repeats: 1000000 is not valid; allowed: an integer in [1, 1000]",
    ("bench", "tiny-flux", "--recipe", "flux_gna", "--warmup", "101"):
        "--warmup: 101 is not valid; allowed: an integer in [0, 100]",
    ("bench", "tiny-hunyuan-video", "--recipe", "hunyuan_video_gna", "--frames", "1000001"):
        "--frames: 1000001 is not valid for tiny-hunyuan-video; allowed: 4k+1 frames in [1, 262141]",
    ("bench", "tiny-flux", "--recipe", "flux_gna", "--height", "65536", "--width", "65536"):
        "65536x65536 pixels is 4096x4096 = 16,777,216 tokens for tiny-flux; allowed: at most 4,194,304 tokens",
    ("compare", "tiny-flux", "--recipe", "flux_gna", "--height", "16384", "--width", "16384"):
        "tiny-flux at 16384x16384 pixels (token grid 1024x1024, batch 1) is 1,048,576 tokens per call; "
        "allowed for the tiny presets: batch x tokens^2 <= 8192^2",
    ("compare", "tiny-flux", "--recipe", "flux_gna", "--steps", "1000000000"):
        "--steps: 1000000000 is not valid; allowed: an integer in [1, 1000]",
    ("compare", "tiny-hunyuan-video", "--recipe", "hunyuan_video_gna", "--frames", "1000001"):
        "--frames: 1000001 is not valid for tiny-hunyuan-video",
    ("demo", "--steps", "1000000000"): "--steps: 1000000000 is not valid; allowed: an integer in [1, 1000]",
    ("demo", "--height", "65536", "--width", "65536"): "allowed: at most 4,194,304 tokens",
    ("demo", "--height", "4096", "--width", "4096"): "allowed for the tiny presets: batch x tokens^2 <= 8192^2",
    ("calibrate", "--device", "cpu", "--heads", "100000"):
        "--heads: 100000 is not valid; allowed: an integer in [1, 1024]",
}

CHILD = """
import contextlib, io, json, sys, traceback
import na_accel.tools.zoo
from na_accel.cli import main

def refuse(*args, **kwargs):
    raise AssertionError("a model was built before the sizes were checked")

na_accel.tools.zoo.load_model = refuse
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([*argv, "--output-dir", "/nonexistent-unused"] if argv[0] in ("demo", "compare") else argv)
        except BaseException:
            code, _ = "raised", traceback.print_exc()
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def test_every_quoted_size_ends_in_one_line_and_exit_2(tmp_path):
    cases = list(CASES)
    # --output-dir is last, so a size check that ran after the output check would still be seen as
    # refused by the size (the folder is not created: nothing runs).
    result = run_bounded_code(CHILD.replace("/nonexistent-unused", str(tmp_path / "out")).replace(
        "json.loads(sys.argv[1])", repr([list(c) for c in cases])), seconds=90, memory_bytes=4 * GIB)
    assert result.returncode == 0, result.stderr
    for argv, (code, err) in zip(cases, json.loads(result.stdout.splitlines()[-1])):
        assert code == 2, (argv, code, err)
        assert err.count("\n") == 1 and err.startswith("na-accel: error: "), (argv, err)
        assert CASES[argv] in err, (argv, err)
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
