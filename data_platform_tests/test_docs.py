"""The documentation holds together: a short README, and every relative link in README.md and docs/ leads to a
file that exists and, with a ``#fragment``, to a heading of that page (GitHub's anchors)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 250
LONG_PAGE_LINES = 100  # a page longer than this opens with a table of contents

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link targets and markup dropped, lower case, punctuation other than
    ``-`` and ``_`` removed, spaces turned into ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = _CODE_SPAN.sub(lambda m: m.group(2), text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub gives the headings of ``page`` (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(page.read_text()):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every inline link or image in ``page`` that is not a URL, outside code."""
    links = []
    for number, line in _prose_lines(page.read_text()):
        for target in _LINK.findall(_CODE_SPAN.sub("", line)):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:, file: ...
                links.append((number, target))
    return links


def broken_links(page: Path) -> list[str]:
    """Each relative link of ``page`` whose file does not exist, or whose fragment names no heading there."""
    broken = []
    for number, target in relative_links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}:{number}: {target}"
        if not dest.exists():
            broken.append(f"{where} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{where} (no heading with that anchor)")
    return broken


def _doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_readme_is_short_and_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    assert "make demo" in readme and "make test" in readme
    assert "docs/README.md" in {target.partition("#")[0] for _, target in relative_links(ROOT / "README.md")}


def test_every_relative_link_in_the_readme_and_docs_resolves():
    pages = _doc_pages()
    assert len(pages) > 10 and sum(len(relative_links(page)) for page in pages) > 50
    assert [problem for page in pages for problem in broken_links(page)] == []


def test_the_link_check_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Second: `code` & more\n\n## Second: `code` & more\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n"
        "[ok](other.md#second-code--more) [ok too](other.md#second-code--more-1) [self](#title)\n"
        "[gone](missing.md) [bad anchor](other.md#nothing) [web](https://example.com/x.md)\n"
        "`[in code](missing-too.md)`\n\n```\n[fenced](missing-three.md)\n```\n"
    )
    assert [p.split(": ", 1)[1] for p in broken_links(page)] == [
        "missing.md (no such file)",
        "other.md#nothing (no heading with that anchor)",
    ]


def test_every_docs_page_is_in_the_index():
    index = {target.partition("#")[0] for _, target in relative_links(DOCS / "README.md")}
    pages = {page.name for page in DOCS.glob("*.md")} - {"README.md"}
    assert pages and sorted(pages - index) == []


def test_long_docs_pages_open_with_a_table_of_contents():
    """A long page links to its own sections before its first one starts."""
    missing = []
    for page in sorted(DOCS.glob("*.md")):
        lines = page.read_text().splitlines()
        if len(lines) <= LONG_PAGE_LINES:
            continue
        prose = _prose_lines(page.read_text())
        sections = [n for n, line in prose if re.match(r"^##\s", line)]
        if len(sections) < 2:  # one block (docs/layout.md): nothing to find one's way in
            continue
        toc = {t for n, line in prose if n < sections[0] for t in _LINK.findall(line) if t.startswith("#")}
        if len(toc) < len(sections):
            missing.append(page.name)
    assert missing == []


def test_code_fences_are_closed():
    """An unclosed fence turns the rest of a page into code (and hides its links from the check above)."""
    unclosed = [
        page.name for page in _doc_pages() if sum(1 for line in page.read_text().splitlines() if _FENCE.match(line)) % 2
    ]
    assert unclosed == []
