"""The documentation can't rot: README.md and docs/*.md are built, run and checked against the code.

- ``mkdocs build --strict`` succeeds (a broken link, anchor or a page missing from the nav fails);
- every page is in mkdocs.yml's nav and README.md links to every page;
- every fenced code block is run by its language: ```python blocks are executed (a block that
  can't run offline says so in a ``<!-- not run: <reason> -->`` line right above it, and is then
  only compiled); each command of a ```bash block is parsed by the real ``na-accel`` argument
  parser (``na-accel recipes``, ``models`` and ``estimate`` also run: seconds, no model), a
  ``bash``/``python`` script it names exists and knows the options given; ```yaml blocks are
  recipes and load with ``na_accel.load_recipe``; ```json blocks parse; ```text blocks are output;
- every repository path (``na_accel/...``, ``eval/...``, ``kernels/...``, ``triton_gna.py``) and
  every ``na_accel.<module>[.<attribute>]`` a page names exists.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FILES = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *PAGES]
LANGUAGES = {"python", "bash", "yaml", "json", "text"}
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
# na-accel subcommands that run in seconds without a model or a download
RUNNABLE = {"recipes", "models", "estimate"}
# top folders of the repository, and na_accel's packages (named relative to na_accel/ in the docs)
ROOTS = ("na_accel", "recipes", "eval", "scripts", "tests", "docs")
PACKAGES = tuple(p.name for p in (ROOT / "na_accel").iterdir() if (p / "__init__.py").is_file())


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def code_blocks():
    """(file, line, language, code, not-run reason or None) of every fenced block in the docs."""
    for path in FILES:
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            marker = NOT_RUN.fullmatch(before.strip())
            yield path, line, match.group(1).strip(), match.group(2), marker.group(1).strip() if marker else None


BLOCKS = list(code_blocks())


def _blocks(language):
    return [pytest.param(b, id=f"{_rel(b[0])}:{b[1]}") for b in BLOCKS if b[2] == language]


# --- the site ------------------------------------------------------------------------------------


def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def _nav_pages(nav) -> list[str]:
    out = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        out += _nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_every_page_is_in_the_nav_and_linked_from_the_readme():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["docs_dir"] == "docs" and config["strict"] is True
    pages = {p.name for p in PAGES}
    assert sorted(_nav_pages(config["nav"])) == sorted(pages)
    readme = (ROOT / "README.md").read_text()
    assert sorted(p for p in pages if f"](docs/{p})" not in readme and f"](docs/{p}#" not in readme) == []


def test_every_block_says_its_language_and_only_python_blocks_are_not_run():
    assert [(f"{_rel(p)}:{n}", lang) for p, n, lang, _, _ in BLOCKS if lang not in LANGUAGES] == []
    marked = [(f"{_rel(p)}:{n}", lang) for p, n, lang, _, reason in BLOCKS if reason is not None]
    assert all(lang == "python" for _, lang in marked), marked
    assert len(marked) <= 4, f"keep the blocks that don't run few: {marked}"
    assert all(reason for *_, reason in BLOCKS if reason is not None)


# --- python ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", _blocks("python"))
def test_python_blocks_run(block, tmp_path, monkeypatch, capsys):
    path, line, _, code, not_run = block
    compiled = compile("\n" * (line) + code, str(path), "exec")  # tracebacks point at the page's lines
    if not_run:
        return  # compiled only; the marker says why it can't run here
    monkeypatch.chdir(tmp_path)
    exec(compiled, {"__name__": "docs_example"})


# --- bash -----------------------------------------------------------------------------------------


def commands(code: str):
    """Each command of a bash block as argv: continuation lines joined, comments dropped, leading
    VAR=value assignments dropped."""
    for line in code.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):
            argv = argv[1:]
        if argv:
            yield argv


def parse_na_accel(argv: list[str], capsys):
    from na_accel.cli import build_parser

    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"na-accel {shlex.join(argv)}: the CLI refuses it: {capsys.readouterr().err}")


def check_script(script: str, options: list[str]) -> None:
    path = ROOT / script
    assert path.is_file(), f"{script} does not exist"
    text = path.read_text()
    unknown = [o for o in options if o.startswith("--") and o.split("=")[0] not in text]
    assert not unknown, f"{script} knows no option {unknown}"


def check_command(argv: list[str], capsys, tmp_path, monkeypatch) -> None:
    program, args = argv[0], argv[1:]
    if program == "python" and args[:2] == ["-m", "na_accel.cli"]:
        program, args = "na-accel", args[2:]
    if program == "na-accel":
        parsed = parse_na_accel(args, capsys)
        if parsed.command in RUNNABLE:
            from na_accel.cli import main

            with monkeypatch.context() as patched:
                patched.chdir(tmp_path)
                assert main(args) == 0, capsys.readouterr().err
    elif program == "bash":
        check_script(args[0], args[1:])
        if args[0] == "scripts/demo.sh":  # its arguments pass through to na-accel demo
            parse_na_accel(["demo", *args[1:]], capsys)
    elif program == "python" and args[:2] == ["-m", "pytest"] or program == "pytest":
        check_pytest(args[2:] if program == "python" else args, argv)
    elif program == "python" and args[:1] == ["-m"]:
        assert importlib.util.find_spec(args[1]) is not None, argv
    elif program == "python":
        check_script(args[0], args[1:])
    elif program == "source":
        assert (ROOT / args[0]).is_file(), argv
    elif program == "pip":
        assert args[0] == "install", argv
    elif program == "cp":  # copying a folder of the repository somewhere: it exists
        assert (ROOT / [a for a in args if not a.startswith("-")][0]).exists(), argv
    else:
        pytest.fail(f"{shlex.join(argv)}: no check for {program!r} commands in tests/docs/test_docs.py")


PYTEST_VALUE_OPTIONS = ("-n", "-m", "-k", "-p")


def check_pytest(args: list[str], argv: list[str]) -> None:
    """The test paths exist and a -m expression names only registered markers (pyproject.toml)."""
    tests, markers = [], []
    values = iter(args)
    for arg in values:
        if arg in PYTEST_VALUE_OPTIONS:
            value = next(values)
            if arg == "-m":
                markers += [w for w in re.findall(r"[\w-]+", value) if w not in ("and", "or", "not")]
        elif not arg.startswith("-"):
            tests.append(arg)
    assert all((ROOT / t.split("::")[0]).exists() for t in tests), argv
    registered = {line.split(":")[0] for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
                  ["ini_options"].get("markers", [])}
    assert set(markers) <= registered, f"{shlex.join(argv)}: markers {sorted(set(markers) - registered)} are not registered"


@pytest.mark.parametrize("block", _blocks("bash"))
def test_bash_blocks_parse_and_the_cheap_ones_run(block, capsys, tmp_path, monkeypatch):
    found = list(commands(block[3]))
    assert found, "an empty bash block"
    for argv in found:
        check_command(argv, capsys, tmp_path, monkeypatch)


def test_the_readme_two_commands_are_the_scripts():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    assert "bash scripts/demo.sh" in section and "bash scripts/test.sh" in section


# --- yaml and json --------------------------------------------------------------------------------


@pytest.mark.parametrize("block", _blocks("yaml") + _blocks("json"))
def test_yaml_blocks_are_recipes_that_load_and_json_blocks_parse(block, tmp_path):
    import na_accel
    from na_accel.families.registry import supported_families

    if block[2] == "json":
        json.loads(block[3])
        return
    assert isinstance(yaml.safe_load(block[3]), dict)
    file = tmp_path / "recipe.yaml"
    file.write_text(block[3])
    recipe = na_accel.load_recipe(str(file))  # the loader recipe files really go through (YAML 1.2, limits)
    assert recipe.model in supported_families()


# --- names: paths and modules ---------------------------------------------------------------------

ROOTED = re.compile(r"(?<![\w/.~$-])((?:" + "|".join(ROOTS) + r")/[\w.*<>/-]*)")
PACKAGE_RELATIVE = re.compile(r"`((?:" + "|".join(PACKAGES) + r")/[\w.*<>/-]*)")
BARE_PY = re.compile(r"(?<![\w/.<>*-])([\w-]+\.py)\b")
DOTTED = re.compile(r"(?<![\w.])(na_accel(?:\.\w+)+)")


def _pattern(name: str) -> str:
    return re.sub(r"<[^>]*>", "*", name.rstrip(".,:;)"))


def named_paths(text: str) -> set[str]:
    found = {_pattern(m) for m in ROOTED.findall(text)}
    found |= {"na_accel/" + _pattern(m) for m in PACKAGE_RELATIVE.findall(text)}
    return {f for f in found if f.rstrip("/") not in ROOTS}


def _exists(pattern: str) -> bool:
    return bool(glob.glob(str(ROOT / pattern)))


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_every_path_a_page_names_exists(path):
    text = path.read_text()
    missing = sorted(p for p in named_paths(text) if not _exists(p))
    assert missing == [], f"{_rel(path)} names paths that don't exist: {missing}"
    files = {p.name for p in ROOT.rglob("*.py") if ".git" not in p.parts and ".venv" not in p.parts}
    missing = sorted({m for m in BARE_PY.findall(text) if m not in files})
    assert missing == [], f"{_rel(path)} names Python files that don't exist: {missing}"


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        name = ".".join(parts[:split])
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except (ImportError, ValueError):
            continue
        obj = importlib.import_module(name)
        with contextlib.suppress(AttributeError):
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
            return True
        return False
    return False


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_every_module_and_attribute_a_page_names_exists(path):
    names = set(DOTTED.findall(path.read_text()))
    assert sorted(n for n in names if not resolves(n)) == []


def test_the_checks_catch_drift():
    """The drift issue #24 found (configs/ and sizes.py named where they no longer are) is caught."""
    assert not _exists(_pattern("na_accel/configs/*.json")) and _exists(_pattern("na_accel/families/configs/*.json"))
    assert named_paths("see `kernels/<name>.py` and na_accel/sizes.py.") == {"na_accel/kernels/*.py",
                                                                            "na_accel/sizes.py"}
    assert not resolves("na_accel.sizes") and resolves("na_accel.inputs.sizes.TINY_MAX_TOKENS")
    assert not resolves("na_accel.recipe.scaling.NO_SUCH_LIMIT") and resolves("na_accel.recipe.scaling.MAX_AXIS")
    assert DOTTED.findall("torch.ops.na_accel.gna_forward and na_accel.patch.") == ["na_accel.patch"]


def test_the_architecture_page_names_every_package_and_top_module():
    text = (DOCS / "architecture.md").read_text()
    top = [p.name for p in (ROOT / "na_accel").glob("*.py") if p.name != "__init__.py"]
    missing = [f"{p}/" for p in PACKAGES if f"{p}/" not in text] + [m for m in top if m not in text]
    assert missing == []
