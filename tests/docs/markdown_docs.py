"""The project's Markdown documentation as data: which files, their links, their anchors.

The documentation is README.md (the front door) and every page under docs/. Code is left out
before anything is read from a page: fenced blocks (``` and ~~~) and indented blocks hold
examples, not links or headings.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from support import REPO

DOCS = REPO / "docs"
README = REPO / "README.md"

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
# [text](target) or [text](target "title"); link text may hold `code` and one level of [...]
_INLINE_LINK = re.compile(
    r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
# [label]: target
_REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def doc_files() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every line outside a code block."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    previous_blank = True
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        # an indented code block starts after a blank line (inside a list it is a continuation)
        if previous_blank and line.startswith("    ") and not line.lstrip().startswith(("-", "*")):
            continue
        previous_blank = not line.strip()
        out.append((number, line))
    return out


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, inline markup and punctuation dropped
    (letters, digits, `_` and `-` stay), each space a `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub gives the headings of `path` (a repeated heading gets -1, -2, ...)."""
    seen: Counter[str] = Counter()
    out: set[str] = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = heading_anchor(match.group(2))
        out.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return out


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{_shown(self.source)}:{self.line}: {self.target}"


def _shown(path: Path) -> str:
    """A path as the repository names it (absolute outside it)."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(resolved)


def relative_links(path: Path) -> list[Link]:
    """Every link of `path` that points into the repository (no scheme, not protocol-relative)."""
    out: list[Link] = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        targets = [m.group(1) for m in _INLINE_LINK.finditer(line)]
        definition = _REFERENCE_DEF.match(line)
        if definition:
            targets.append(definition.group(1))
        out.extend(
            Link(path, number, t)
            for t in targets
            if not _SCHEME.match(t) and not t.startswith("//")
        )
    return out


def broken(link: Link) -> str | None:
    """Why `link` does not resolve, or None when it does."""
    target, _, anchor = link.target.partition("#")
    source = link.source.resolve()
    resolved = (source.parent / target).resolve() if target else source
    if source.is_relative_to(REPO) and not resolved.is_relative_to(REPO):
        return "points outside the repository"
    if not resolved.exists():
        return f"no such file: {_shown(resolved)}"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"no heading with anchor #{anchor} in {_shown(resolved)}"
    return None
