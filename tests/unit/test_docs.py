"""The documentation holds together: the README stays a front door, and every relative
link in README.md, CHANGELOG.md and docs/ (and every runbook_url of the alert rules)
reaches a file that exists and, with a #fragment, a heading of that file, the way
GitHub renders it."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = "https://github.com/OWNER/llm-quota-exporter/blob/main/"
# A link to a folder on GitHub: tree/ instead of blob/.
PUBLISHED_TREE = PUBLISHED.replace("/blob/", "/tree/")
README_MAX_LINES = 300

DOCS = sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").rglob("*.md")])

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) and ![alt](target); the target stops at whitespace (a title may follow).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+).+?\1")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, where links and headings are Markdown."""
    lines: list[str] = []
    fence = ""  # the fence of the open code block, if any
    for line in text.splitlines():
        match = FENCE.match(line)
        if not fence and match:
            fence = match.group(1)
        elif fence and match and match.group(1).startswith(fence) and not match.group(2).strip():
            fence = ""  # only a bare fence at least as long closes the block
        elif not fence:
            lines.append(line)
    assert not fence, "a code block is never closed"
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, without
    punctuation but `-` and `_`, spaces as hyphens.

    >>> slug("Claude Code (`provider: claude`)")
    'claude-code-provider-claude'
    """
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: Counter[str] = Counter()
    found = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def links(path: Path) -> list[str]:
    # A link's text may wrap over lines, so the prose is searched as one text.
    prose = "\n".join(CODE_SPAN.sub("", line) for line in prose_lines(path.read_text("utf-8")))
    return LINK.findall(prose)


def broken(source: Path, target: str) -> str | None:
    """Why a link from `source` does not resolve, or None when it does."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return None  # http:, https:, mailto: leave the repository
    ref, _, fragment = target.partition("#")
    dest = (source.parent / unquote(ref)).resolve() if ref else source
    if not dest.exists():
        return f"{dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest} is missing"
    if not dest.is_relative_to(REPO):
        return "leaves the repository"
    if fragment and dest.suffix == ".md" and unquote(fragment).lower() not in anchors(dest):
        return f"no heading #{fragment} in {dest.relative_to(REPO)}"
    return None


def test_readme_is_a_front_door_of_at_most_300_lines() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_reaches_a_file_and_heading(doc: Path) -> None:
    problems = [f"{target}: {why}" for target in links(doc) if (why := broken(doc, target))]
    assert not problems, f"{doc.relative_to(REPO)}:\n" + "\n".join(problems)


def test_the_reference_is_in_docs_and_the_readme_links_to_it() -> None:
    readme = links(REPO / "README.md")
    for page in ("docs/configuration.md", "docs/metrics.md", "docs/provider-guides.md",
                 "docs/views-and-api.md", "docs/monitoring.md", "docs/kubernetes.md",
                 "docs/development.md", "docs/runbook.md", "CHANGELOG.md"):
        assert any(t.split("#")[0] == page for t in readme), f"README does not link {page}"


def test_every_runbook_url_reaches_a_heading_of_the_runbook() -> None:
    urls = []
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            urls += [r["annotations"]["runbook_url"] for r in group["rules"]
                     if "runbook_url" in r.get("annotations", {})]
    assert urls
    for url in urls:
        assert url.startswith(PUBLISHED), url
        assert broken(REPO / "README.md", url.removeprefix(PUBLISHED)) is None, url


def test_project_urls_into_the_repository_resolve() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    inside = [u.removeprefix(PUBLISHED).removeprefix(PUBLISHED_TREE)
              for u in project["urls"].values() if u.startswith((PUBLISHED, PUBLISHED_TREE))]
    assert "CHANGELOG.md" in inside and "docs" in inside, project["urls"]
    for path in inside:
        assert broken(REPO / "README.md", path) is None, path


def test_the_link_checker_sees_a_dead_link_and_a_missing_heading(tmp_path: Path) -> None:
    assert slug("Quota at a glance: terminal, JSON API, landing page") == \
        "quota-at-a-glance-terminal-json-api-landing-page"
    assert slug("`quota` and `serve` on simulated accounts") == \
        "quota-and-serve-on-simulated-accounts"
    readme = REPO / "README.md"
    assert broken(readme, "docs/no-such-page.md") == "docs/no-such-page.md is missing"
    assert broken(readme, "docs/runbook.md#no-such-alert") == \
        "no heading #no-such-alert in docs/runbook.md"
    assert broken(readme, "docs/runbook.md#llmquotaexhausted") is None
    page = tmp_path / "page.md"
    page.write_text("# A\n```sh\n# not a heading\n[x](gone.md)\n```\n## A\n"
                    "[y](#a-1) `[z](gone.md)` [wrapped\nlink](#a)\n", encoding="utf-8")
    assert anchors(page) == {"a", "a-1"}
    assert links(page) == ["#a-1", "#a"]
    page.write_text("```sh\nnever closed\n```yaml\n# A\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="never closed"):
        anchors(page)
