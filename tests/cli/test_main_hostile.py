"""A hostile user's command lines (issue #23, round 2), each ending in one clear line and a nonzero
exit, never a raw traceback.

Sizes and counts are bounded where they enter: the command lines that used to exhaust memory or end
in raw numpy / torch / diffusers errors are refused before any model is built. Then the edges:
unreadable inputs, outputs in the way, writes that fail after the run, Ctrl-C. The argument cases
run in one bounded child each (4 GB address space, 90 s), so a regression fails here instead of
taking the machine down.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.bounded import ROOT, _limit_memory, run_bounded_cli, run_bounded_code

from na_accel.cli import main
from na_accel.outputs.run_folder import MANIFEST

pytestmark = pytest.mark.slow  # each case a CLI run, most in a subprocess with a time limit and a memory cap

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
import na_accel.models.zoo
from na_accel.cli import main

def refuse(*args, **kwargs):
    raise AssertionError("a model was built before the sizes were checked")

na_accel.models.zoo.load_model = refuse
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            extra = ["--output-dir", "/nonexistent-unused"] if argv[0] in ("demo", "compare") and "--output-dir" not in argv else []
            code = main([*argv, *extra])
        except BaseException:
            code, _ = "raised", traceback.print_exc()
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def run_cases(cases: dict, out_dir) -> None:
    """Each argv of ``cases`` in one bounded child (no model may be built): exit 2, one line saying
    ``cases[argv]``, no traceback."""
    argvs = list(cases)
    result = run_bounded_code(CHILD.replace("/nonexistent-unused", str(out_dir)).replace(
        "json.loads(sys.argv[1])", repr([list(c) for c in argvs])), seconds=90, memory_bytes=4 * GIB)
    assert result.returncode == 0, result.stderr
    for argv, (code, err) in zip(argvs, json.loads(result.stdout.splitlines()[-1])):
        assert code == 2, (argv, code, err)
        assert err.count("\n") == 1 and err.startswith("na-accel: error: "), (argv, err)
        assert cases[argv] in err, (argv, err)
        assert "Traceback" not in err


def test_every_quoted_size_ends_in_one_line_and_exit_2(tmp_path):
    # The default --output-dir is tmp_path/out, never created: nothing ran.
    run_cases(CASES, tmp_path / "out")
    assert not (tmp_path / "out").exists()


TINY = ["tiny-flux", "--recipe", "flux_gna"]


def test_bad_inputs_and_outputs_in_the_way_fail_before_the_run(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(16 * 2**20 + 1)  # sparse: one byte over the bound
    (tmp_path / "latin1.txt").write_bytes("a fox\ncaf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "object.json").write_text(json.dumps({"prompt": "a fox"}))
    (tmp_path / "empty-entry.json").write_text(json.dumps(["a fox", "  "]))
    taken = {}
    for name in ("metrics.json", "dense.png", MANIFEST):
        folder = tmp_path / f"taken-{name.strip('.')}"
        (folder / name).mkdir(parents=True)
        taken[name] = folder
    prompt_file_in_the_way = tmp_path / "prompt-in-the-way"
    prompt_file_in_the_way.mkdir()
    (prompt_file_in_the_way / "prompt_000").write_text("a file where a prompt folder goes")
    long_name = "a" * 300
    cases = {
        ("estimate", "--recipe", "flux_gna", "--bench-json", "/dev/zero"):
            "--bench-json: '/dev/zero' is not a regular file (a device, pipe or socket); allowed: a regular file of "
            "at most 16,777,216 bytes",
        ("estimate", "--recipe", "flux_gna", "--bench-json", str(big)):
            f"--bench-json: {str(big)!r} is larger than 16,777,216 bytes",
        ("estimate", "--recipe", "flux_gna", "--q-tile", "16x8"):
            "--q-tile: given without --kv-tile; give both",
        ("estimate", "--recipe", "flux_gna", "--kv-tile", "16x8"):
            "--kv-tile: given without --q-tile; give both",
        ("compare", *TINY, "--prompt-file", str(tmp_path / "latin1.txt")):
            "is not UTF-8 text: byte 9 (0xe9) is not valid UTF-8",
        ("compare", *TINY, "--prompt-file", str(tmp_path / "binary.txt")):
            "is not UTF-8 text: byte 0 (0x89) is not valid UTF-8",
        ("compare", *TINY, "--prompt-file", str(tmp_path / "object.json")):
            "holds a JSON object; allowed: a JSON list of strings, or one prompt per line",
        ("compare", *TINY, "--prompt-file", str(tmp_path / "empty-entry.json")):
            "prompt 1 of the JSON list is empty",
        ("compare", *TINY, "--prompt", ""): "--prompt: '' is empty",
        ("bench", *TINY, "--prompt", " "): "--prompt: ' ' is empty",
        ("compare", *TINY, "--output-dir", str(taken["metrics.json"])):
            f"--output-dir: {str(taken['metrics.json'] / 'metrics.json')!r} is a folder, but this command writes a file",
        ("demo", "--output-dir", str(taken["dense.png"])):
            f"--output-dir: {str(taken['dense.png'] / 'dense.png')!r} is a folder",
        ("demo", "--output-dir", str(taken[MANIFEST])): f"{str(taken[MANIFEST] / MANIFEST)!r} is a folder",
        ("compare", *TINY, "--prompt-file", str(ROOT / "na_accel" / "inputs" / "prompts.txt"), "--output-dir",
         str(prompt_file_in_the_way)):
            f"{str(prompt_file_in_the_way / 'prompt_000')!r} is a file, but this command writes a folder",
        ("bench", *TINY, "--json", str(tmp_path / long_name / "x.json")):
            "--json: the name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'... is 300 bytes long; allowed: at most 255 "
            "bytes per file or folder name",
        ("demo", "--output-dir", str(tmp_path / long_name)): "--output-dir: the name",
    }
    run_cases(cases, tmp_path / "unused")
    assert sorted(p.name for p in (tmp_path / "taken-metrics.json").iterdir()) == ["metrics.json"]  # untouched


def test_a_json_that_cannot_be_written_after_the_run_prints_the_measurement(tmp_path):
    # /dev/full takes the open and fails the write (ENOSPC): only the write itself can tell.
    result = run_bounded_cli(["bench", *TINY, "--height", "32", "--width", "32", "--steps", "1", "--repeats", "1",
                              "--warmup", "0", "--no-progress", "--json", "/dev/full"], seconds=120,
                             memory_bytes=6 * GIB, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "na-accel: error: --json: could not write '/dev/full': No space left on device; the result is printed to "
        "stdout above"]
    printed = json.loads(result.stdout[result.stdout.index("\n{") + 1:])  # the table, then the JSON
    assert printed["command"] == "bench" and printed["runs"]["dense"]["repeats"]
    assert "speedup" in result.stdout.split("\n{")[0]  # the table came first


def test_a_demo_whose_write_fails_ends_in_one_line_with_the_metrics(tmp_path, monkeypatch, capsys):
    import na_accel.commands.compare as compare  # the demo writes what compare writes, with compare's engine

    def full_disk(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(compare, "write_json", full_disk)
    assert main(["demo", "--height", "32", "--width", "32", "--steps", "1", "--output-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        f"na-accel: error: --output-dir: could not write {str(tmp_path / 'metrics.json')!r}: No space left on "
        "device; the result is printed to stdout above")
    metrics = json.loads(captured.out[captured.out.rindex("\n{") + 1:])
    assert metrics["command"] == "demo" and "psnr" in metrics["averages"]
    # What was written is recorded (a next run replaces it), the failed file is not.
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["dense.png", "patched.png", "side_by_side.png"]


def _read_until(stream, marker: bytes, seconds: float) -> bytes:
    """What ``stream`` (a pipe) gave until ``marker`` appeared (tqdm writes without newlines)."""
    seen, deadline = b"", time.monotonic() + seconds
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} within {seconds} s: {seen!r}"
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, f"the command ended before {marker!r}: {seen!r}"
        seen += chunk
    return seen


@pytest.mark.parametrize("argv,stream,marker", [
    (["demo", "--steps", "1000"], "stdout", b"tiny-flux-shapes: a tiny FLUX.1"),  # printed just before the generations
    (["bench", *TINY, "--steps", "1000", "--repeats", "1000"], "stderr", b"dense/patched"),  # its progress bar
])
def test_ctrl_c_is_one_line_exit_130_and_keeps_the_previous_run(tmp_path, argv, stream, marker):
    out = tmp_path / "out"
    previous = out / "dense.png"
    previous.parent.mkdir()
    previous.write_bytes(b"the previous run's picture")
    (out / MANIFEST).write_text(json.dumps({"command": "demo", "files": ["dense.png"],
                                            "sizes": {"dense.png": previous.stat().st_size}}))
    extra = ["--output-dir", str(out)] if argv[0] == "demo" else ["--json", str(tmp_path / "b.json")]
    process = subprocess.Popen([sys.executable, "-m", "na_accel.cli", *argv, *extra], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_limit_memory(6 * GIB))
    try:
        before = _read_until(getattr(process, stream), marker, 90)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=180)  # a loaded CI machine can take a while to unwind
    finally:
        process.kill()
    stderr = ((before if stream == "stderr" else b"") + stderr).decode()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.strip().splitlines()[-1].split("\r")[-1].strip() == "na-accel: interrupted"
    if stream == "stdout":
        assert stderr.strip() == "na-accel: interrupted"
    assert previous.read_bytes() == b"the previous run's picture"
    assert not (tmp_path / "b.json").exists()
