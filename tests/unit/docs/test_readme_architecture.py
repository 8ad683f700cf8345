"""The README's architecture section leads, and every file, folder, class and job it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SOURCES = [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts and ".data" not in p.parts]


def _section() -> str:
    start = README.index("## Architecture (start here)")
    return README[start:README.index("\n## ", start + 1)]


def test_the_architecture_section_comes_right_after_the_two_commands() -> None:
    headings = re.findall(r"^## (.+)$", README, flags=re.MULTILINE)
    assert headings[headings.index("Two commands") + 1] == "Architecture (start here)"


def test_every_path_it_names_exists() -> None:
    names = set(re.findall(r"`([\w./-]+(?:\.py|/))`", _section()))
    assert len(names) > 30
    missing = [n for n in names if not (ROOT / n).exists() and not any(ROOT.rglob(n.rstrip("/")))]
    assert missing == []


def test_every_class_and_job_it_names_is_defined() -> None:
    section = _section()
    classes = set(re.findall(r"`([A-Z][A-Za-z]+)`", section)) - {"NOTIFY", "INSERT"}
    jobs = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES if "application" in p.parts
                     or "entrypoints" in p.parts or "adapters" in p.parts or "domain" in p.parts)
    assert classes and jobs
    assert [c for c in classes if not re.search(rf"^(class|def|async def) {c}\b", text, re.MULTILINE)] == []
    assert [j for j in jobs if f'"{j}"' not in text] == []
