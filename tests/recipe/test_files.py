"""Tests for na_accel.recipe.files: hostile recipe files give a RecipeError naming the file and the problem."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from na_accel import RecipeError, load_recipe
from na_accel.recipe.data import MAX_DEPTH
from na_accel.recipe.files import MAX_RECIPE_BYTES

VALID = "model: flux\ndefault: {kernel_size: 8}\n"
SECRET = "do-not-echo-this-text"  # file content that must never appear in an error

# The classic "billion laughs": 638 bytes of nested anchors and aliases, here inside free-form
# metadata, expand to 10**9 strings when a plain YAML loader constructs them.
BILLION_LAUGHS = VALID + "metadata:\n" + "".join(
    f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" if i else "  l0: &l0 [lol, lol, lol, lol, lol]\n"
    for i in range(10)
)


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def refused(path, *patterns):
    """load_recipe(path) raises a RecipeError naming the file, matching every pattern, echoing no secret."""
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert str(path) in message, message
    for pattern in patterns:
        assert info.match(pattern), message
    assert SECRET not in message
    return message


def test_the_billion_laughs_fixture_is_what_the_issue_describes():
    assert len(BILLION_LAUGHS.encode()) - len(VALID) < 700
    assert yaml.compose(BILLION_LAUGHS) is not None  # valid YAML: only expansion would hurt


def test_billion_laughs_is_refused_at_the_first_anchor(tmp_path):
    refused(write(tmp_path, "laughs.yaml", BILLION_LAUGHS), r"line 4\b", r"anchors .*not allowed")


@pytest.mark.parametrize("text, what", [
    (VALID + "metadata: {a: &x 1, b: *x}\n", "anchors"),
    (VALID + "notes: *undefined\n", "aliases"),
    (VALID + "metadata:\n  <<: {a: 1}\n", "merge keys"),
], ids=["anchor", "alias", "merge-key"])
def test_anchors_aliases_and_merge_keys_are_refused(tmp_path, text, what):
    refused(write(tmp_path, "expand.yaml", text), what + r" .*not allowed")


@pytest.mark.parametrize("suffix, nested", [
    (".yaml", "metadata: " + "[" * 20000 + "]" * 20000 + "\n"),
    (".yaml", "metadata:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200)) + "  " * 200 + "x: 1\n"),
    (".json", None),
], ids=["yaml-flow", "yaml-block", "json"])
def test_deep_nesting_is_refused_with_the_limit(tmp_path, suffix, nested):
    if suffix == ".json":
        text = '{"model": "flux", "default": {"kernel_size": 8}, "metadata": ' + "[" * 20000 + "]" * 20000 + "}"
    else:
        text = VALID + nested
    refused(write(tmp_path, "deep" + suffix, text), rf"nested deeper than {MAX_DEPTH}\b", "MAX_DEPTH|limit")


def test_nesting_up_to_the_limit_is_fine(tmp_path):
    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # the top-level mapping is level 1
    assert load_recipe(write(tmp_path, "ok.yaml", VALID + f"metadata: {inner}\n")).model == "flux"
    text = json.dumps({"model": "flux", "default": {"kernel_size": 8}})[:-1] + f', "metadata": {inner}}}'
    assert load_recipe(write(tmp_path, "ok.json", text)).model == "flux"
    with pytest.raises(RecipeError, match="nested deeper"):
        load_recipe(write(tmp_path, "over.yaml", VALID + f"metadata: [{inner}]\n"))


@pytest.mark.parametrize("name, text", [
    ("big.yaml", VALID + "metadata: " + "9" * 5000 + "\n"),
    ("big.json", '{"model": "flux", "default": {"kernel_size": 8}, "metadata": ' + "9" * 5000 + "}"),
    ("kernel.yaml", "model: flux\ndefault: {kernel_size: " + "9" * 400 + "}\n"),
], ids=["yaml-metadata", "json-metadata", "yaml-kernel"])
def test_huge_integers_are_refused(tmp_path, name, text):
    refused(write(tmp_path, name, text), r"integer", r"2\*\*63")


@pytest.mark.parametrize("name, text, key", [
    ("dup.yaml", VALID + "model: wan\n", "model"),
    ("dup_nested.yaml", "model: flux\ndefault: {kernel_size: 8, kernel_size: 16}\n", "kernel_size"),
    ("dup.json", '{"model": "flux", "default": {"kernel_size": 8}, "model": "wan"}', "model"),
], ids=["yaml", "yaml-nested", "json"])
def test_duplicate_keys_are_an_error_not_last_wins(tmp_path, name, text, key):
    refused(write(tmp_path, name, text), rf"duplicate key '{key}'")


def test_yaml_errors_give_the_line_but_not_the_text(tmp_path):
    path = write(tmp_path, "broken.yaml", f"model: flux\ndefault: {{kernel_size: [80, 80]}} {SECRET}\n")
    refused(path, r"not valid YAML", r"line \d+, column \d+")


@pytest.mark.parametrize("name, content, pattern", [
    ("latin1.yaml", (VALID + "notes: caf\xe9\n").encode("latin-1"), r"not UTF-8 text.*byte 0xe9 at offset \d+"),
    ("utf16.yaml", VALID.encode("utf-16"), r"UTF-16.*UTF-8"),
    ("utf16.json", json.dumps({"model": "flux", "default": {"kernel_size": 8}}).encode("utf-16-be"),
     r"not UTF-8 text|UTF-16"),
    ("control.yaml", (VALID + "notes: a\x07b\n").encode(), r"not valid YAML.*character #x0007"),
], ids=["latin-1", "utf-16-bom", "utf-16-no-bom", "control-character"])
def test_text_that_is_not_utf8_is_refused(tmp_path, name, content, pattern):
    refused(write(tmp_path, name, content), pattern)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    assert load_recipe(write(tmp_path, "bom.yaml", "\ufeff" + VALID)).model == "flux"


def test_an_empty_file_says_so(tmp_path):
    refused(write(tmp_path, "empty.yaml", ""), r"is empty")


def test_a_directory_is_not_a_recipe_file(tmp_path):
    folder = tmp_path / "recipes.yaml"
    folder.mkdir()
    refused(folder, r"is a directory")


def test_dev_null_is_not_a_regular_file():
    with pytest.raises(RecipeError, match=r"'/dev/null'.*not a regular file"):
        load_recipe("/dev/null")


def test_a_named_pipe_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    refused(fifo, r"not a regular file")  # reading it would block forever


def test_an_unreadable_file_says_why(tmp_path, monkeypatch):
    path = write(tmp_path, "locked.yaml", VALID)
    real_open = os.open

    def deny(file, *args, **kwargs):  # chmod does not stop root, which the tests may run as
        if os.fspath(file) == str(path):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("os.open", deny)
    refused(path, r"cannot be read.*Permission denied")


def test_an_oversized_file_is_refused_naming_the_limit(tmp_path):
    path = write(tmp_path, "huge.yaml", VALID + "notes: " + "x" * MAX_RECIPE_BYTES + "\n")
    refused(path, rf"larger than {MAX_RECIPE_BYTES} bytes", "MAX_RECIPE_BYTES")


def test_validation_errors_from_a_file_name_the_file(tmp_path):
    path = write(tmp_path, "bad_value.yaml", "model: flux\ndefault:\n  kernel_size: [80, 80]\n  stride: [16, 160]\n")
    refused(path, r"recipe\.default\.stride", r"stride 160\b")


def test_unsafe_yaml_tags_are_refused(tmp_path):
    path = write(tmp_path, "tag.yaml", VALID + "notes: !!python/object/apply:os.system [echo hi]\n")
    refused(path, r"not valid YAML")


def test_top_level_not_a_mapping_in_file(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- model: flux\n- default: {kernel_size: 8}\n")
    with pytest.raises(RecipeError, match=r"top level") as info:
        load_recipe(path)
    assert info.match(r"got list")


@pytest.mark.parametrize(
    "filename, text",
    [
        ("bad.yaml", "model: flux\ndefault: {kernel_size: [80, 80\n"),
        ("bad.yml", "model: [flux\n  : :\n"),
        ("bad.json", '{"model": "flux", "default": '),
    ],
)
def test_invalid_file_text(tmp_path, filename, text):
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(RecipeError, match=r"not valid (YAML|JSON)") as info:
        load_recipe(path)
    assert info.match(filename.replace(".", r"\."))


def test_bad_value_in_file_names_field(tmp_path):
    path = tmp_path / "bad_value.yaml"
    path.write_text("model: flux\ndefault:\n  kernel_size: [80, 80]\n  stride: [16, 160]\n")
    with pytest.raises(RecipeError, match=r"recipe\.default\.stride") as info:
        load_recipe(path)
    assert info.match(r"stride 160\b")
