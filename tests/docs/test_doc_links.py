"""Every relative link in README.md and docs/ resolves: the file exists and, for a Markdown
page, the `#anchor` is one of its headings as GitHub renders them."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_docs import DOCS, Link, anchors, broken, doc_files, heading_anchor, relative_links


def test_docs_folder_holds_the_reference() -> None:
    assert DOCS.is_dir()
    assert len(list(DOCS.glob("*.md"))) >= 10


@pytest.mark.parametrize("page", doc_files(), ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [f"{link}: {why}" for link in relative_links(page) if (why := broken(link))]
    assert problems == [], "\n".join(problems)


def test_readme_links_every_docs_page() -> None:
    """The README's "where to read on" list reaches every page of docs/."""
    readme = doc_files()[0]
    linked = {
        (readme.parent / link.target.partition("#")[0]).resolve() for link in relative_links(readme)
    }
    unlinked = sorted(p.name for p in DOCS.glob("*.md") if p.resolve() not in linked)
    assert unlinked == [], f"docs pages the README does not link: {unlinked}"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Drift: `.github/workflows/drift.yml`", "drift-githubworkflowsdriftyml"),
        ("`secret_store: env` and `kernel_mode: nbuser`",
         "secret_store-env-and-kernel_mode-nbuser"),
        ("Analysts' access to the vault", "analysts-access-to-the-vault"),
        ("`invoke matrix`: the tenants of a run, for `fromJSON`",
         "invoke-matrix-the-tenants-of-a-run-for-fromjson"),
    ],
)  # fmt: skip
def test_heading_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert heading_anchor(heading) == anchor


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    """The checker itself: a missing file, a missing anchor and code examples."""
    (tmp_path / "other.md").write_text("# Other\n\n## A section\n\n## A section\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#a-section) [repeat](other.md#a-section-1) [self](#page)\n"
        "[gone](missing.md) [no anchor](other.md#nowhere) [web](https://example.com/x.md)\n\n"
        "```\n[in code](missing-too.md)\n```\n"
    )
    assert anchors(tmp_path / "other.md") == {"other", "a-section", "a-section-1"}
    found = {link.target: broken(link) for link in relative_links(page)}
    assert set(found) == {
        "other.md#a-section",
        "other.md#a-section-1",
        "#page",
        "missing.md",
        "other.md#nowhere",
    }
    assert found["other.md#a-section"] is None
    assert found["other.md#a-section-1"] is None
    assert found["#page"] is None
    assert found["missing.md"] is not None and "no such file" in found["missing.md"]
    assert found["other.md#nowhere"] is not None and "#nowhere" in found["other.md#nowhere"]
    assert isinstance(next(iter(relative_links(page))), Link)
