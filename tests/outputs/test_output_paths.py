"""Output paths are checked before a run: a folder where a file goes, a file in the way, no permission."""

import pytest

from na_accel import ArgumentError
from na_accel.outputs.output_paths import check_output_dir, check_output_file

# Writing under /sys is refused even to root (the tests may run as root, where chmod does not bite).
UNWRITABLE = "/sys/na_accel_test/result.json"


def test_a_file_path_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(ArgumentError) as info:
        check_output_file("--json", tmp_path)
    assert f"--json: {str(tmp_path)!r} is a folder" in str(info.value)


def test_a_file_in_the_way_of_the_folder_is_named(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    with pytest.raises(ArgumentError) as info:
        check_output_file("--json", blocker / "sub" / "result.json")
    assert "--json:" in str(info.value) and f"{str(blocker)!r} is a file, not a folder" in str(info.value)
    assert blocker.read_text() == "mine"


def test_an_unwritable_place_is_refused():
    with pytest.raises(ArgumentError) as info:
        check_output_file("--json", UNWRITABLE)
    assert f"--json: cannot write {UNWRITABLE!r}" in str(info.value)


def test_a_good_file_path_is_accepted_and_nothing_is_created(tmp_path):
    path = tmp_path / "new" / "deeper" / "result.json"
    assert check_output_file("--json", path) == path
    assert not (tmp_path / "new").exists() and list(tmp_path.iterdir()) == []
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    assert check_output_file("--json", existing) == existing


def test_an_output_dir_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("mine")
    with pytest.raises(ArgumentError) as info:
        check_output_dir("--output-dir", blocker)
    assert f"--output-dir: {str(blocker)!r} is a file, not a folder" in str(info.value)
    with pytest.raises(ArgumentError, match="is a file, not a folder"):
        check_output_dir("--output-dir", blocker / "inside")


def test_an_unwritable_output_dir_is_refused():
    with pytest.raises(ArgumentError, match="--output-dir: cannot write '/sys/na_accel_test'"):
        check_output_dir("--output-dir", "/sys/na_accel_test")


def test_a_good_output_dir_is_accepted(tmp_path):
    assert check_output_dir("--output-dir", tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert check_output_dir("--output-dir", tmp_path) == tmp_path
    assert list(tmp_path.iterdir()) == []
