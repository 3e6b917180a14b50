"""The terminal table: shared thresholds, values shown, colour only on a real TTY."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from exporter.quota import EXHAUSTED_AT
from exporter.snapshot import AccountData, AccountInfo, Credit, ModelQuota, Snapshot
from exporter.views import (
    LOW,
    WARN,
    Level,
    account_rows,
    level,
    percent_text,
    reset_text,
    tier_text,
)
from exporter.views.terminal import BAR_WIDTH, Bar, make_console, render_snapshot
from tests.view_samples import NOW, failed_account, free_account, sample_snapshot, work_account

ESC = "\x1b"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class AsciiFile(io.StringIO):
    encoding = "ascii"


@pytest.fixture(autouse=True)
def _terminal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich reads TERM and COLUMNS itself: pin them so the runner's values do not matter."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "100")


def plain(snapshot: Snapshot, *, width: int = 100) -> str:
    out = io.StringIO()
    console = make_console(out, environ={})
    console.width = width
    console.print(render_snapshot(snapshot, now=NOW))
    return out.getvalue()


def line_with(text: str, needle: str) -> str:
    matches = [line for line in text.splitlines() if needle in line]
    assert matches, f"no line contains {needle!r} in:\n{text}"
    return matches[0]


def detail_under(text: str, needle: str) -> str:
    """The dim detail line(s) printed under the row that contains `needle`."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if needle in line)
    under = []
    for line in lines[i + 1:]:
        # A detail line is indented past the row's label and has no bar.
        if not line.startswith("   ") or not line.strip() or any(c in line for c in "\u2588\u2591"):
            break
        under.append(line.strip())
    return " ".join(under)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (1.0, Level.OK),
        (0.6, Level.OK),
        (WARN + 0.001, Level.OK),
        # Inclusive, as the alerts: each of Antigravity's 20% steps lands on a level.
        (WARN, Level.WARN),
        (LOW + 0.001, Level.WARN),
        (LOW, Level.LOW),
        (0.0101, Level.LOW),
        (EXHAUSTED_AT, Level.EXHAUSTED),
        (0.0, Level.EXHAUSTED),
        (None, Level.UNKNOWN),
    ],
)
def test_level_follows_alert_thresholds(fraction: float | None, expected: Level) -> None:
    assert level(fraction) is expected


def test_low_threshold_is_the_prometheus_alert_threshold() -> None:
    rules = Path(__file__).parents[2] / "prometheus/rules/llm-quota-thresholds.yml"
    groups = yaml.safe_load(rules.read_text(encoding="utf-8"))["groups"]
    exprs = {r["record"]: r["expr"] for g in groups for r in g["rules"] if "record" in r}
    match = re.fullmatch(r"vector\(([0-9.]+)\)", exprs["llm_quota:threshold_low:fraction"])
    assert match, exprs["llm_quota:threshold_low:fraction"]
    assert float(match.group(1)) == LOW == 0.20
    assert EXHAUSTED_AT < LOW < WARN


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.7829875, "78%"),
        (1.0, "100%"),
        (0.0, "0%"),
        (0.004, "<1%"),
        (0.999, "99%"),
        (0.125, "12%"),
        (None, "unknown"),
    ],
)
def test_percent_text_never_shows_unknown_or_sliver_as_zero(
    fraction: float | None, expected: str
) -> None:
    assert percent_text(fraction) == expected


def test_reset_text_counts_down_and_admits_unknown() -> None:
    assert reset_text(NOW + 3 * 3600 + 12 * 60, NOW) == "in 3h 12m"
    assert reset_text(NOW - 5, NOW) == "now"
    assert reset_text(None, NOW) == "unknown"


def test_tier_text_shows_name_and_raw_id() -> None:
    assert tier_text(work_account()) == "Google AI Pro (g1-pro-tier)"
    assert tier_text(failed_account()) == "unknown"


def test_rows_put_pool_windows_before_models() -> None:
    rows = account_rows(work_account())
    assert [r.kind for r in rows] == ["pool"] * 4 + ["model"] * 5
    assert (rows[0].label, rows[0].detail, rows[0].fraction) == ("Gemini Models", "5h", 0.91)
    assert rows[4].label == "Gemini 3 Pro (High)"
    assert rows[4].detail == "gemini-3-pro-high"


def test_model_rows_lead_with_the_effective_number_and_name_the_binding_limit() -> None:
    rows = {r.detail: r for r in account_rows(work_account())}
    sonnet = rows["claude-sonnet-4-5"]
    # 12% of its own, but the 5-hour pool it draws on is empty.
    assert (sonnet.fraction, sonnet.level) == (0.0, Level.EXHAUSTED)
    assert sonnet.limit == "Claude and GPT models, 5h window"
    assert sonnet.reset_time == NOW + 75 * 60
    assert "own quota 12%" in sonnet.note
    pro = rows["gemini-3-pro-high"]
    assert (pro.fraction, pro.limit, pro.note) == (0.7829875, "", "")
    flash = rows["gemini-3-flash"]
    assert (flash.fraction, flash.limit) == (0.91, "Gemini Models, 5h window")
    opus = rows["claude-opus-4-5-thinking"]
    assert opus.fraction == 0.0 and "no number from upstream; from its pool" in opus.note


def test_table_shows_tier_percent_and_countdown_per_row() -> None:
    text = plain(sample_snapshot())
    assert "work  antigravity  Google AI Pro (g1-pro-tier)" in text
    row = line_with(text, "Gemini 3 Pro (High)")
    assert "78%" in row and "in 2h 48m" in row
    pool = line_with(text, "weekly")
    assert "Gemini Models" in pool and "95%" in pool and "in 3d 5h" in pool
    exhausted = line_with(text, "Claude and GPT models  ")
    assert " 0%" in exhausted and "in 1h 15m" in exhausted
    wide = plain(sample_snapshot(), width=160)
    sonnet = line_with(wide, "Claude Sonnet 4.5")
    assert " 0%" in sonnet
    assert detail_under(wide, "Claude Sonnet 4.5") == (
        "Claude and GPT models, 5h window; own quota 12%")


def test_bar_length_follows_fraction() -> None:
    text = plain(Snapshot(accounts=(work_account(),), taken_at=NOW))
    gemini_5h = line_with(text, "Gemini Models")
    assert gemini_5h.count("\u2588") == round(0.91 * BAR_WIDTH)
    assert gemini_5h.count("\u2591") == BAR_WIDTH - round(0.91 * BAR_WIDTH)
    # 100% of its own, bounded by the pool's 91%.
    flash = line_with(text, "Gemini 3 Flash")
    assert flash.count("\u2588") == round(0.91 * BAR_WIDTH) and "91%" in flash


def test_an_omitted_fraction_in_an_empty_pool_is_exhausted_and_says_why() -> None:
    text = plain(Snapshot(accounts=(work_account(),), taken_at=NOW), width=160)
    row = line_with(text, "Claude Opus 4.5 (Thinking)")
    assert " 0%" in row and "unknown" not in row
    assert row.count("\u2591") == BAR_WIDTH
    assert "in 1h 15m" in row
    assert "no number from upstream; from its pool windows" in detail_under(
        text, "Claude Opus 4.5 (Thinking)")


def test_an_omitted_fraction_without_evidence_is_unknown_with_the_reason() -> None:
    model = ModelQuota("gemini-4-ultra", "Gemini 4 Ultra", "google", None, NOW + 3600,
                       omitted=True)
    data = AccountData(info=AccountInfo("free-tier", ""), models=(model,), as_of=NOW)
    account = replace(work_account(), data=data)
    text = plain(Snapshot(accounts=(account,), taken_at=NOW), width=160)
    row = line_with(text, "Gemini 4 Ultra")
    assert "unknown" in row and "%" not in row and "\u2591" not in row
    assert detail_under(text, "Gemini 4 Ultra") == (
        "unknown: no number from upstream and no pool data")


def test_unknown_effective_number_when_the_pool_source_failed() -> None:
    from tests.view_samples import partial_account

    text = plain(Snapshot(accounts=(partial_account(),), taken_at=NOW), width=200)
    assert "PARTIAL" in line_with(text, "work")
    assert "summary failed: rate_limited" in text
    row = line_with(text, "Gemini 3 Pro (High)")
    assert "unknown" in row and "\u2588" not in row
    assert "own quota 78%" in detail_under(text, "Gemini 3 Pro (High)")
    # No number of its own and no pools to tell it: unknown, never 0%.
    opus = line_with(text, "Claude Opus 4.5 (Thinking)")
    assert "unknown" in opus and "0%" not in opus


def test_unknown_reset_time_is_shown_as_unknown() -> None:
    text = plain(Snapshot(accounts=(free_account(),), taken_at=NOW))
    row = line_with(text, "Gemini 3 Pro (High)")
    assert " 0%" in row and "unknown" in row


def test_sliver_left_gets_one_bar_cell() -> None:
    assert Bar(0.001).text().plain == "\u2588" + "\u2591" * (BAR_WIDTH - 1)
    assert Bar(0.0).text().plain == "\u2591" * BAR_WIDTH


def test_failed_account_shows_reason_message_and_last_success() -> None:
    text = plain(sample_snapshot(), width=200)
    assert "team-ci  antigravity  unknown  FAILED" in text
    detail = line_with(text, "invalid_grant")
    assert "auth: token refresh failed: invalid_grant" in detail
    assert "last success 3h ago" in detail


def test_failed_account_does_not_hide_others() -> None:
    text = plain(sample_snapshot())
    assert text.index("work") < text.index("personal") < text.index("team-ci")
    assert "Gemini 3 Flash" in text


def test_account_without_pool_licence_says_so() -> None:
    text = plain(Snapshot(accounts=(free_account(),), taken_at=NOW))
    assert "no pools (no licence)" in text
    assert "8%" in line_with(text, "Gemini 3 Flash")


def test_cached_account_says_how_old() -> None:
    text = plain(Snapshot(accounts=(work_account(cached=True),), taken_at=NOW))
    assert "cached 20s ago" in line_with(text, "work")


def test_empty_selection_says_so() -> None:
    assert plain(Snapshot(accounts=(), taken_at=NOW)).strip() == "no accounts selected"


def test_not_a_tty_gives_plain_text() -> None:
    out = io.StringIO()
    make_console(out, environ={}).print(render_snapshot(sample_snapshot(), now=NOW))
    assert ESC not in out.getvalue()
    assert "78%" in out.getvalue()


def test_tty_gets_colour_by_threshold() -> None:
    out = FakeTTY()
    console = make_console(out, environ={"TERM": "xterm-256color"})
    console.print(render_snapshot(Snapshot(accounts=(work_account(),), taken_at=NOW), now=NOW))
    text = out.getvalue()
    assert ESC in text
    # Green 78%, yellow 22%, red 0% (SGR 32, 33, 31, possibly combined with bold).
    assert re.search(r"\x1b\[[0-9;]*32m\s*78%", text)
    assert re.search(r"\x1b\[[0-9;]*33m\s*22%", text)
    assert re.search(r"\x1b\[[0-9;]*31m\s*0%", text)


@pytest.mark.parametrize("value", ["1", "true"])
def test_no_color_on_a_tty_gives_plain_text(value: str) -> None:
    out = FakeTTY()
    make_console(out, environ={"NO_COLOR": value}).print(
        render_snapshot(sample_snapshot(), now=NOW)
    )
    assert ESC not in out.getvalue()
    assert "78%" in out.getvalue()


def test_empty_no_color_does_not_disable_colour() -> None:
    out = FakeTTY()
    make_console(out, environ={"NO_COLOR": ""}).print(render_snapshot(sample_snapshot(), now=NOW))
    assert ESC in out.getvalue()


def test_ascii_only_output_uses_ascii_bars() -> None:
    out = AsciiFile()
    make_console(out, environ={}).print(
        render_snapshot(Snapshot(accounts=(work_account(),), taken_at=NOW), now=NOW)
    )
    text = out.getvalue()
    text.encode("ascii")  # nothing outside ASCII
    assert "#" * round(0.91 * BAR_WIDTH) + "." * 2 in line_with(text, "Gemini Models")


def test_a_pool_within_a_lower_pool_names_the_limit_that_binds() -> None:
    from exporter.snapshot import AccountData, AccountInfo, AccountSnapshot, PoolQuota

    data = AccountData(AccountInfo("max", "Claude Max"), pools=(
        PoolQuota("all", "All models", "weekly", 0.6, NOW + 3600),
        PoolQuota("sonnet", "Sonnet", "weekly", 0.96, NOW + 3600, within=("all",)),
        PoolQuota("opus", "Opus", "weekly", 0.0, NOW + 3600, within=("all",))))
    rows = {r.label: r for r in account_rows(AccountSnapshot(
        "claude", "max", True, data, None, 0.1, NOW, NOW))}
    assert rows["Sonnet"].fraction == 0.96  # the pool's own number, as exported
    assert rows["Sonnet"].limit == "All models, weekly window (60%)"
    assert rows["Opus"].limit == "" and rows["All models"].limit == ""


def test_credits_are_shown_under_the_table_and_alone_when_they_are_all_there_is() -> None:
    """A Claude Enterprise seat reports only its spend limit's money left: a credit."""
    data = AccountData(info=AccountInfo("enterprise", "Claude Enterprise"),
                       credits=(Credit("extra_usage", 453.69),), as_of=NOW)
    enterprise = replace(work_account(), provider="claude", account="ent", data=data)
    text = plain(Snapshot(accounts=(enterprise, work_account()), taken_at=NOW), width=160)
    assert "Credits left: extra_usage 453.69" in text
    assert "no quotas reported" not in text
