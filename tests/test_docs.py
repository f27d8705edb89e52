"""Every example of the README and the docs runs as written.

Each ```python block of README.md, docs/quickstart.md and docs/guides/*.md runs on its own in a fresh
interpreter (a block that includes a whole example file with ``--8<--`` is that example, run by
test_examples.py). A block deliberately left a sketch is fenced ```python title="Sketch: ..."``` and is
not run. Every ``llenhance`` command line in their shell blocks parses with the CLI's own parser, and
every ``python benchmarks/...`` line names a script that exists and takes the options given.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "quickstart.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^"]+)"\s*$')
SHELL = {"bash", "sh", "shell", "console"}


def _blocks(kind: set[str]) -> list[tuple[str, str, str]]:
    """(id, info string, body) of the fenced blocks whose language is in ``kind``."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for n, match in enumerate(FENCE.finditer(text)):
            info = match["info"].strip()
            if info.split(" ")[0] in kind:
                line = text[: match.start()].count("\n") + 1
                found.append((f"{page.relative_to(ROOT)}:{line}", info, match["body"]))
    return found


PYTHON = _blocks({"python"})
SHELL_BLOCKS = _blocks(SHELL)


def _commands(body: str) -> list[str]:
    """The command lines of a shell block: continuations joined, comments and prompts removed."""
    lines, current = [], ""
    for raw in body.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        line = line.removeprefix("$ ")
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            lines.extend(part.strip() for part in current.split("&&"))
        current = ""
    return lines


def test_the_pages_have_examples() -> None:
    assert len(PYTHON) >= 7 and len(SHELL_BLOCKS) >= 8


@pytest.mark.parametrize(("where", "info", "body"), PYTHON, ids=[b[0] for b in PYTHON])
def test_python_block_runs_on_its_own(where: str, info: str, body: str, tmp_path: Path) -> None:
    if 'title="Sketch' in info:
        assert "cuda" in body.lower() or "..." in body, f"{where}: a sketch says why it is not run"
        pytest.skip(f"{where} is fenced as a sketch")
    include = INCLUDE.match(body.strip())
    if include:
        path = ROOT / include["path"]
        assert ":" not in include["path"], f"{where} includes part of a file; include the whole example"
        assert path.parent == ROOT / "examples" and path.is_file(), f"{where}: {path} is not an example"
        return  # the example itself runs in test_examples.py
    script = tmp_path / "block.py"
    script.write_text(body, encoding="utf-8")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, f"{where}:\n{body}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"


def _cli_lines() -> list[tuple[str, list[str]]]:
    found = []
    for where, _, body in SHELL_BLOCKS:
        for line in _commands(body):
            words = shlex.split(line)
            if words[:1] == ["llenhance"]:
                found.append((where, words[1:]))
            elif "llenhance.cli" in words:
                found.append((where, words[words.index("llenhance.cli") + 1:]))
    return found


def _inline_lines() -> list[tuple[str, list[str]]]:
    """``llenhance`` commands written inline (`llenhance evaluate pairs --data ...`), outside code blocks;
    summaries such as `llenhance evaluate pairs|niqe|fer` are not commands."""
    found = []
    for page in PAGES:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for span in re.findall(r"`(llenhance [^`]+)`", text):
            if "|" not in span and "..." not in span and " --" in span:
                found.append((str(page.relative_to(ROOT)), shlex.split(span)[1:]))
    return found


CLI = _cli_lines() + _inline_lines()


@pytest.mark.parametrize(("where", "argv"), CLI, ids=[f"{w}:{' '.join(a[:2])}" for w, a in CLI])
def test_command_line_parses(where: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from llenhance.cli import build_parser

    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `llenhance {' '.join(argv)}` does not parse: {capsys.readouterr().err}")


def test_benchmark_lines_name_scripts_and_their_options() -> None:
    checked = 0
    for where, _, body in SHELL_BLOCKS:
        for line in _commands(body):
            words = shlex.split(line)
            if words[:1] != ["python"] or not words[1].startswith("benchmarks/"):
                continue
            script = ROOT / words[1]
            assert script.is_file(), f"{where}: {words[1]} does not exist"
            source = script.read_text(encoding="utf-8")
            for option in (w for w in words[2:] if w.startswith("--")):
                assert f'"{option}"' in source, f"{where}: {words[1]} has no option {option}"
            checked += 1
    assert checked >= 1
