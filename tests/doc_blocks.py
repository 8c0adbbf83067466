"""The code blocks of README.md and docs/, read from the files themselves, so the tests run
exactly what the documentation shows."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BASH = shutil.which("bash") or "/bin/bash"  # runs the documented shell commands
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


@dataclass(frozen=True)
class Block:
    language: str
    text: str

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0] if self.text else ""


def section(heading: str, path: Path = README) -> str:
    """The text under ``heading`` (e.g. ``## Using it``) up to the next heading of the same
    or a higher level (``#`` lines inside code blocks are not headings)."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index(heading + "\n")
    fenced = False
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[start:number])
    return "".join(lines[start:])


def blocks(text: str, language: str | None = None) -> list[Block]:
    found = [Block(m.group(1), m.group(2)) for m in _FENCE.finditer(text)]
    return [b for b in found if language is None or b.language == language]


def block_named(text: str, first_line: str) -> Block:
    """The one block whose first line is ``first_line`` (e.g. ``# myadmin.py``)."""
    named = [b for b in blocks(text) if b.first_line.strip() == first_line]
    assert len(named) == 1, f"expected one block starting {first_line!r}, found {len(named)}"
    return named[0]


@dataclass(frozen=True)
class Command:
    """One shell command of a block (continuation lines joined) and the output the
    documentation shows for it (``# {...}`` lines right after it; ``...`` matches anything)."""

    line: str
    shown: str | None

    def matches(self, output: str) -> bool:
        if self.shown is None:
            return True
        pattern = ".*".join(re.escape(part) for part in self.shown.split("..."))
        return re.fullmatch(pattern, output.strip(), re.S) is not None


def commands(block: Block) -> list[Command]:
    found: list[Command] = []
    pending = ""
    for raw in block.text.splitlines():
        line = raw.rstrip()
        if pending:
            pending += "\n" + line
        elif line.startswith("# ") and found and found[-1].shown is None and (
            line[2:].startswith(("{", "["))
        ):
            found[-1] = Command(found[-1].line, line[2:])
            continue
        elif not line or line.startswith("#"):
            continue
        else:
            pending = line
        if not pending.endswith("\\"):
            found.append(Command(pending, None))
            pending = ""
    return found
