"""The landing page as a real browser parses it (headless Chromium, --dump-dom)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from exporter.views.page import DEMO_BANNER, render_page
from tests.view_samples import NOW, sample_snapshot

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError(f"no headless browser found (looked for {', '.join(BROWSERS)})")


def dump_dom(page: Path, profile: Path) -> str:
    result = subprocess.run(
        [
            browser(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=420,1400",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_browser_dom_holds_the_quota_table(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text(render_page(sample_snapshot(), now=NOW, demo=True), encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")

    assert DEMO_BANNER in dom
    assert "<h2>work</h2>" in dom
    assert '<tr class="ok"><td class="name">Gemini 3 Pro (High)' in dom
    assert '<div class="fill" style="width: 78.3%"></div>' in dom
    assert '<td class="pct">78%</td>' in dom
    assert ">in 2h 48m</time>" in dom
    # Omitted upstream: exhausted. 12% of its own, in an empty pool: exhausted too.
    assert '<tr class="exhausted"><td class="name">Claude Opus 4.5 (Thinking)' in dom
    assert '<tr class="exhausted"><td class="name">Claude Sonnet 4.5' in dom
    assert "limited by Claude and GPT models, 5h window" in dom
    assert "no pools (no licence)" in dom
    assert "auth: token refresh failed: invalid_grant" in dom
    assert dom.count("<table>") == 2  # the failed account has no table
    # The parser kept every row inside its table: nothing was foster-parented out.
    assert dom.count("<tr") == page.read_text(encoding="utf-8").count("<tr")
