"""An output folder a run owns: a new run removes exactly what the previous na-accel run wrote there."""

import json

from na_accel.outputs.run_folder import MANIFEST, RunFolder


def _write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_new_run_removes_only_the_files_the_previous_run_recorded(tmp_path):
    first = RunFolder(tmp_path, "compare")
    assert first.clear_previous() == []
    written = [_write(tmp_path / "report.html"), _write(tmp_path / "prompt_000" / "dense.png"),
               _write(tmp_path / "prompt_001" / "dense_frames" / "frame_0000.png")]
    first.record(written)
    mine = _write(tmp_path / "notes.txt", "keep me")
    user_in_run_folder = _write(tmp_path / "prompt_001" / "my_notes.txt", "keep me too")

    second = RunFolder(tmp_path, "demo")
    removed = second.clear_previous()
    assert sorted(removed) == ["prompt_000/dense.png", "prompt_001/dense_frames/frame_0000.png", "report.html"]
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "prompt_000").exists()
    assert not (tmp_path / "prompt_001" / "dense_frames").exists()  # emptied folders go too
    assert mine.read_text() == "keep me" and user_in_run_folder.read_text() == "keep me too"
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == []
    assert second.clear_previous() == []  # once per run


def test_records_add_up_and_survive_a_reopen(tmp_path):
    run = RunFolder(tmp_path, "compare")
    run.clear_previous()
    run.record([_write(tmp_path / "dense.png")])
    RunFolder(tmp_path, "compare").record([_write(tmp_path / "metrics.json"), tmp_path / "dense.png"])
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["command"] == "compare" and manifest["files"] == ["dense.png", "metrics.json"]


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


def test_a_record_edited_to_list_a_users_files_removes_none_of_them(tmp_path):
    """Issue #23: only names this tool writes, at the size it recorded, are ever removed."""
    folder = tmp_path / "out"
    user = _write(folder / "user.txt", "the user's notes")
    own_dense = _write(folder / "dense.png", "the user's own picture")  # a name we write, not our file
    outside = _write(tmp_path / "x", "outside")
    (folder / MANIFEST).write_text(json.dumps({"command": "compare", "files": [
        "user.txt", "../x", "dense.png", "prompt_000/../user.txt"], "sizes": {"dense.png": 3, "user.txt": 16}}))
    assert RunFolder(folder, "compare").clear_previous() == []
    assert user.read_text() == "the user's notes" and own_dense.read_text() == "the user's own picture"
    assert outside.read_text() == "outside"


def test_a_recorded_file_changed_since_is_kept(tmp_path):
    run = RunFolder(tmp_path, "demo")
    run.clear_previous()
    run.record([_write(tmp_path / "metrics.json", "{}"), _write(tmp_path / "dense.png", "png")])
    (tmp_path / "dense.png").write_text("the user's edit, longer")
    assert RunFolder(tmp_path, "demo").clear_previous() == ["metrics.json"]
    assert (tmp_path / "dense.png").read_text() == "the user's edit, longer"
