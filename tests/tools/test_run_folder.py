"""An output folder a run owns: a new run removes exactly what the previous na-accel run wrote there."""

import json

from na_accel.tools.run_folder import MANIFEST, RunFolder


def _write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_new_run_removes_only_the_files_the_previous_run_recorded(tmp_path):
    first = RunFolder(tmp_path, "compare")
    assert first.clear_previous() == []
    written = [_write(tmp_path / "report.html"), _write(tmp_path / "prompt_000" / "dense.png"),
               _write(tmp_path / "prompt_001" / "frames" / "frame_0000.png")]
    first.record(written)
    mine = _write(tmp_path / "notes.txt", "keep me")
    user_in_run_folder = _write(tmp_path / "prompt_001" / "my_notes.txt", "keep me too")

    second = RunFolder(tmp_path, "demo")
    removed = second.clear_previous()
    assert sorted(removed) == ["prompt_000/dense.png", "prompt_001/frames/frame_0000.png", "report.html"]
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "prompt_000").exists()
    assert not (tmp_path / "prompt_001" / "frames").exists()  # emptied folders go too
    assert mine.read_text() == "keep me" and user_in_run_folder.read_text() == "keep me too"
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == []
    assert second.clear_previous() == []  # once per run


def test_records_add_up_and_survive_a_reopen(tmp_path):
    run = RunFolder(tmp_path, "compare")
    run.clear_previous()
    run.record([_write(tmp_path / "a.png")])
    RunFolder(tmp_path, "compare").record([_write(tmp_path / "metrics.json"), tmp_path / "a.png"])
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["command"] == "compare" and manifest["files"] == ["a.png", "metrics.json"]


def test_a_tampered_manifest_never_removes_anything_outside_the_folder(tmp_path):
    folder = tmp_path / "out"
    outside = _write(tmp_path / "precious.txt", "keep")
    link_target = _write(tmp_path / "target.txt", "keep")
    folder.mkdir()
    (folder / "link").symlink_to(link_target)
    (folder / "sub").mkdir()
    (folder / MANIFEST).write_text(json.dumps({"command": "compare", "files": [
        "../precious.txt", str(outside), "link/../../precious.txt", "sub", "missing.png"]}))
    assert RunFolder(folder, "compare").clear_previous() == []
    assert outside.read_text() == "keep" and link_target.read_text() == "keep" and (folder / "sub").is_dir()


def test_an_unreadable_manifest_removes_nothing(tmp_path):
    kept = _write(tmp_path / "dense.png")
    (tmp_path / MANIFEST).write_text("not json")
    assert RunFolder(tmp_path, "compare").clear_previous() == []
    assert kept.exists()
