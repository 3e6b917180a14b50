"""The landing page: quota rows, bars, escaping, banner, links, phone-ready markup."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

import pytest

from exporter.snapshot import AccountData, AccountInfo, ModelQuota, Snapshot
from exporter.views.page import DEMO_BANNER, render_page
from tests.view_samples import (
    NOW,
    failed_account,
    free_account,
    partial_account,
    sample_snapshot,
    work_account,
)

VOID = {"meta", "br", "img", "input", "link", "hr"}


@dataclass
class Row:
    css_class: str
    cells: list[str] = field(default_factory=list)
    bar_width: str | None = None


class PageParser(HTMLParser):
    """Collects quota rows and links, and checks that every tag is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[Row] = []
        self.links: list[str] = []
        self.stack: list[str] = []
        self.problems: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "a":
            self.links.append(attr.get("href") or "")
        if tag == "tr" and attr.get("class"):
            self.rows.append(Row(attr["class"] or ""))
        if tag == "td" and self.rows:
            self._cell = []
        style = attr.get("style") or ""
        if "fill" in (attr.get("class") or "") and self.rows:
            match = re.fullmatch(r"width: ([0-9.]+%)", style)
            self.rows[-1].bar_width = match.group(1) if match else style

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag == "td" and self._cell is not None and self.rows:
            self.rows[-1].cells.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data + " ")


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    assert parser.problems == []
    assert parser.stack == []
    return parser


def row(parser: PageParser, label: str, window: str = "") -> Row:
    for r in parser.rows:
        if r.cells and r.cells[0].startswith(label) and window in r.cells[0]:
            return r
    raise AssertionError(f"no row {label!r} in {[r.cells for r in parser.rows]}")


@pytest.fixture
def page() -> str:
    return render_page(sample_snapshot(), now=NOW)


def test_page_is_a_complete_html5_document_for_phones(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert '<meta charset="utf-8">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (max-width:" in page
    parse(page)


def test_page_loads_nothing_from_elsewhere_and_runs_no_script(page: str) -> None:
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "url(" not in page


def test_page_links_to_metrics_api_and_health(page: str) -> None:
    assert parse(page).links == ["/metrics", "/api/v1/quota", "/-/healthy"]


def test_custom_telemetry_path_is_linked_and_escaped() -> None:
    html = render_page(sample_snapshot(), now=NOW, telemetry_path='/m"x<y>')
    assert parse(html).links[0] == '/m"x<y>'
    assert 'href="/m&quot;x&lt;y&gt;"' in html


def test_rows_show_percent_countdown_and_bar_width(page: str) -> None:
    parser = parse(page)
    gemini_5h = row(parser, "Gemini Models", "5h window")
    assert gemini_5h.cells[1:] == ["", "91%", "in 2h 10m"]
    assert gemini_5h.bar_width == "91.0%"
    assert gemini_5h.css_class == "ok"
    pro = row(parser, "Gemini 3 Pro (High)")
    assert pro.cells[0] == "Gemini 3 Pro (High) gemini-3-pro-high"
    assert pro.bar_width == "78.3%"
    assert pro.cells[2:] == ["78%", "in 2h 48m"]
    # 100% of its own, bounded by its pool's 91%.
    assert row(parser, "Gemini 3 Flash").bar_width == "91.0%"


def test_a_model_whose_pool_is_empty_is_exhausted_and_says_which_limit_binds(page: str) -> None:
    sonnet = row(parse(page), "Claude Sonnet 4.5")
    assert (sonnet.css_class, sonnet.cells[2], sonnet.bar_width) == (
        "exhausted", "0% exhausted", "0.0%")
    assert "limited by Claude and GPT models, 5h window" in sonnet.cells[0]
    assert "own quota 12%" in sonnet.cells[0]
    assert sonnet.cells[3] == "in 1h 15m"


def test_rows_are_classed_by_threshold(page: str) -> None:
    parser = parse(page)
    assert row(parser, "Claude and GPT models", "weekly").css_class == "warn"  # 22%
    assert row(parser, "Gemini 3 Flash").css_class == "ok"
    html = render_page(Snapshot(accounts=(free_account(),), taken_at=NOW), now=NOW)
    assert row(parse(html), "Gemini 3 Flash").css_class == "low"  # 8%
    exhausted = row(parser, "Claude and GPT models", "5h")
    assert (exhausted.css_class, exhausted.cells[2], exhausted.bar_width) == (
        "exhausted",
        "0% exhausted",
        "0.0%",
    )


def test_an_omitted_fraction_in_an_empty_pool_is_exhausted_and_says_why(page: str) -> None:
    opus = row(parse(page), "Claude Opus 4.5 (Thinking)")
    assert opus.css_class == "exhausted"
    assert opus.cells[2:] == ["0% exhausted", "in 1h 15m"]
    assert opus.bar_width == "0.0%"
    assert "no number from upstream; from its pool windows" in opus.cells[0]
    assert "limited by Claude and GPT models, 5h window" in opus.cells[0]


def test_an_omitted_fraction_without_evidence_is_unknown_never_0_or_100() -> None:
    model = ModelQuota("gemini-4-ultra", "Gemini 4 Ultra", "google", None, NOW + 3600,
                       omitted=True)
    data = AccountData(info=AccountInfo("free-tier", ""), models=(model,), as_of=NOW)
    html = render_page(Snapshot(accounts=(replace(work_account(), data=data),), taken_at=NOW),
                       now=NOW)
    ultra = row(parse(html), "Gemini 4 Ultra")
    assert (ultra.css_class, ultra.cells[2]) == ("unknown", "unknown")
    assert "unknown: no number from upstream and no pool data" in ultra.cells[0]
    assert "exhausted" not in ultra.cells[2] and "%" not in ultra.cells[2]


def test_unknown_effective_number_when_the_pool_source_failed() -> None:
    html = render_page(Snapshot(accounts=(partial_account(),), taken_at=NOW), now=NOW)
    assert "PARTIAL" in html and "summary failed: rate_limited" in html
    pro = row(parse(html), "Gemini 3 Pro (High)")
    assert pro.css_class == "unknown" and pro.cells[2] == "unknown"
    assert "own quota 78%" in pro.cells[0]
    assert "unknown: pools unknown: summary failed" in pro.cells[0]
    # No number of its own and no pools to tell it: unknown, not exhausted.
    opus = row(parse(html), "Claude Opus 4.5 (Thinking)")
    assert (opus.css_class, opus.cells[2]) == ("unknown", "unknown")


def test_unknown_reset_is_shown_as_unknown(page: str) -> None:
    personal_pro = [r for r in parse(page).rows if r.cells[0].startswith("Gemini 3 Pro")][-1]
    assert personal_pro.cells[2:] == ["0% exhausted", "unknown"]


def test_reset_carries_a_machine_readable_time(page: str) -> None:
    stamp = "2026-11-28T21:00:00Z"
    assert f'<time datetime="{stamp}" title="{stamp}">in 2h 10m</time>' in page


def test_account_heading_shows_provider_and_tier(page: str) -> None:
    assert "<h2>work</h2>" in page
    assert "antigravity · tier Google AI Pro (g1-pro-tier)" in page


def test_failed_account_shows_reason_and_last_success(page: str) -> None:
    section = page[page.index("<h2>team-ci"):]
    section = section[: section.index("</section>")]
    assert "FAILED" in section
    assert (
        "auth: token refresh failed: invalid_grant (refresh token revoked; log in again)"
        in section
    )
    assert "Last success: 3h ago" in section
    assert "<table>" not in section


def test_account_without_pool_licence_says_so(page: str) -> None:
    section = page[page.index("<h2>personal"):]
    assert "no pools (no licence)" in section[: section.index("</section>")]


def test_cached_account_is_badged() -> None:
    html = render_page(Snapshot(accounts=(work_account(cached=True),), taken_at=NOW), now=NOW)
    assert '<span class="badge cached">cached</span>' in html


def test_demo_banner_only_in_demo_mode() -> None:
    assert DEMO_BANNER == "DEMO DATA (simulated upstream)"
    demo = render_page(sample_snapshot(), now=NOW, demo=True)
    assert f'<p class="demo" role="status">{DEMO_BANNER}</p>' in demo
    assert "<title>LLM quota exporter (demo)</title>" in demo
    assert DEMO_BANNER not in render_page(sample_snapshot(), now=NOW)


def test_every_upstream_and_config_string_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    data = AccountData(
        info=AccountInfo(tier="t<1>", tier_name="Pro & <b>Max</b>"),
        models=(ModelQuota('m"<i>', "<img src=x onerror=alert(2)>", "google", 0.5, None),),
        pools_available=False,
    )
    up = replace(work_account(), account=evil, provider="p<q>", data=data)
    down = failed_account(name="ci&<b>", message="upstream said <iframe src=//evil>")
    html = render_page(Snapshot(accounts=(up, down), taken_at=NOW), now=NOW)
    for raw in (evil, "<b>", "<i>", "<img", "<iframe", "<q>", "t<1>"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Pro &amp; &lt;b&gt;Max&lt;/b&gt; (t&lt;1&gt;)" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "m&quot;&lt;i&gt;" in html
    assert "ci&amp;&lt;b&gt;" in html
    assert "upstream said &lt;iframe src=//evil&gt;" in html
    parse(html)


def test_out_of_range_fraction_bar_is_clamped() -> None:
    data = AccountData(
        info=AccountInfo(tier="free-tier", tier_name=""),
        models=(
            ModelQuota("over", "Over", "google", 1.7, None),
            ModelQuota("under", "Under", "google", -0.2, None),
        ),
    )
    html = render_page(
        Snapshot(accounts=(replace(free_account(), data=data),), taken_at=NOW), now=NOW
    )
    parser = parse(html)
    assert row(parser, "Over").bar_width == "100.0%"
    assert row(parser, "Under").bar_width == "0.0%"


def test_no_accounts_page_says_so() -> None:
    html = render_page(Snapshot(accounts=(), taken_at=NOW), now=NOW)
    assert "No accounts configured." in html
    parse(html)


def test_account_with_no_quotas_says_so() -> None:
    empty = replace(work_account(), data=AccountData(info=AccountInfo("free-tier", "")))
    html = render_page(Snapshot(accounts=(empty,), taken_at=NOW), now=NOW)
    assert "no quotas reported" in html


def test_credits_are_shown_on_the_page() -> None:
    from exporter.snapshot import Credit

    data = AccountData(info=AccountInfo("enterprise", "Claude Enterprise"),
                       credits=(Credit("extra_usage", 453.69),), as_of=NOW)
    ent = replace(work_account(), provider="claude", account="ent", data=data)
    html = render_page(Snapshot(accounts=(ent,), taken_at=NOW), now=NOW)
    assert "Credits left: extra_usage 453.69" in html
    assert "no quotas reported" not in html
