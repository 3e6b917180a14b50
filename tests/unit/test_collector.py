"""Snapshot -> exposition: names, labels, zeros never hidden, effective numbers, sources;
the direct text byte for byte prometheus_client's, with each account's data lines kept
while its data object is the same.
(promtool's lint of the same exposition: tests/integration/test_collector_promtool.py.)"""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter import collector
from exporter.collector import Renderer, registry_for, text
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    Credit,
    FetchError,
    ModelQuota,
    PoolQuota,
    Reason,
    Snapshot,
    SourceResult,
)

SOURCES = (SourceResult("models", skipped=2), SourceResult("summary"))


def good_data(**overrides: Any) -> AccountData:
    data = AccountData(
        info=AccountInfo(tier="g1-pro-tier", tier_name="Google AI Pro"),
        models=(
            ModelQuota("claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic", 0.12, 1.8e9,
                       pools=("claude-gpt",)),
            ModelQuota("claude-opus-4-5-thinking", "Claude Opus 4.5 (Thinking)",
                       "anthropic", 0.0, 1.8e9, pools=("claude-gpt",), omitted=True),
            ModelQuota("gemini-3-flash", "Gemini 3 Flash", "google", 1.0, 1.8e9,
                       pools=("gemini",)),
        ),
        pools=(PoolQuota("claude-gpt", "Claude and GPT models", "5h", 0.0, 1.8e9 + 60),
               PoolQuota("gemini", "Gemini Models", "5h", 0.5, 1.8e9 + 90)),
        credits=(Credit("GOOGLE_ONE_AI", 1000.0),),
        sources=SOURCES,
    )
    return replace(data, **overrides)


def snapshot(data: AccountData | None = None) -> Snapshot:
    good = AccountSnapshot(
        provider="antigravity", account="work", up=True, data=data or good_data(),
        error=None, duration_seconds=0.25, fetched_at=1.7e9, last_success=1.7e9,
        errors_total={"timeout": 2}, skipped_total={"models": 5}, sources=SOURCES,
    )
    bad = AccountSnapshot(
        provider="antigravity", account="broken", up=False, data=None,
        error=FetchError(Reason.AUTH, "refresh token is dead"), duration_seconds=0.1,
        fetched_at=1.7e9, last_success=None, errors_total={"auth": 3},
        sources=(SourceResult("models", AUTH), SourceResult("summary", AUTH)),
    )
    return Snapshot(accounts=(good, bad), taken_at=1.7e9)


AUTH = FetchError(Reason.AUTH, "refresh token is dead")
Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(snap: Snapshot | None = None) -> Samples:
    text = generate_latest(registry_for(snap or snapshot())).decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def by_model(s: Samples, name: str) -> dict[str, float]:
    return {lbl["model"]: v for lbl, v in s.get(name, []) if lbl["account"] == "work"}


def test_model_fraction_and_reset_are_exposed_with_spec_labels() -> None:
    s = samples()
    assert s["llm_quota_remaining_fraction"][0] == (
        {"provider": "antigravity", "account": "work", "model": "claude-sonnet-4-5",
         "tier": "g1-pro-tier"}, 0.12)
    resets = by_model(s, "llm_quota_reset_timestamp_seconds")
    assert resets == {"claude-sonnet-4-5": 1.8e9, "claude-opus-4-5-thinking": 1.8e9,
                      "gemini-3-flash": 1.8e9}


def test_an_omitted_fraction_is_exported_as_zero_and_marked() -> None:
    s = samples()
    assert by_model(s, "llm_quota_remaining_fraction")["claude-opus-4-5-thinking"] == 0.0
    assert by_model(s, "llm_quota_remaining_fraction_omitted") == {
        "claude-opus-4-5-thinking": 1.0}
    assert "llm_quota_remaining_fraction_known" not in s


def test_effective_fraction_is_bounded_by_the_pools_of_the_model() -> None:
    s = samples()
    assert by_model(s, "llm_quota_effective_remaining_fraction") == {
        "claude-sonnet-4-5": 0.0,  # 12% own, but its 5-hour pool is empty
        "claude-opus-4-5-thinking": 0.0,
        "gemini-3-flash": 0.5,  # 100% own, 50% left in the Gemini pool
    }
    pools = {(lbl["model"], lbl["pool"]) for lbl, _ in s["llm_quota_model_pool_info"]}
    assert pools == {("claude-sonnet-4-5", "claude-gpt"),
                     ("claude-opus-4-5-thinking", "claude-gpt"), ("gemini-3-flash", "gemini")}


def test_effective_fraction_is_absent_while_the_pool_source_fails_unless_already_zero() -> None:
    down = FetchError(Reason.RATE_LIMITED, "retrieveUserQuotaSummary: 429")
    data = good_data(pools=(), pools_known=False,
                     sources=(SourceResult("models"), SourceResult("summary", down)))
    s = samples(snapshot(data))
    # Own numbers stay; the effective one is only certain where it is already 0.
    assert by_model(s, "llm_quota_remaining_fraction")["gemini-3-flash"] == 1.0
    assert by_model(s, "llm_quota_effective_remaining_fraction") == {
        "claude-opus-4-5-thinking": 0.0}


def test_source_up_and_skipped_entries_per_source() -> None:
    s = samples()
    up = {(lbl["account"], lbl["source"]): v for lbl, v in s["llm_quota_source_up"]}
    assert up == {("work", "models"): 1.0, ("work", "summary"): 1.0,
                  ("broken", "models"): 0.0, ("broken", "summary"): 0.0}
    skipped = {(lbl["account"], lbl["source"]): v
               for lbl, v in s["llm_quota_parse_skipped_total"]}
    assert skipped[("work", "models")] == 5.0 and skipped[("work", "summary")] == 0.0


def test_a_partial_account_keeps_the_series_of_the_source_that_answered() -> None:
    down = FetchError(Reason.UPSTREAM, "retrieveUserQuotaSummary: 503")
    sources = (SourceResult("models"), SourceResult("summary", down))
    data = good_data(pools=(), pools_known=False, sources=sources)
    snap = snapshot(data)
    partial = replace(snap.accounts[0], up=False, error=down, sources=sources)
    s = samples(Snapshot(accounts=(partial,), taken_at=1.7e9))
    assert s["llm_quota_up"] == [({"provider": "antigravity", "account": "work"}, 0.0)]
    assert len(s["llm_quota_remaining_fraction"]) == 3
    assert "llm_quota_pool_remaining_fraction" not in s
    assert {lbl["source"]: v for lbl, v in s["llm_quota_source_up"]} == {
        "models": 1.0, "summary": 0.0}


def test_credits_and_counted_and_unlimited_pools() -> None:
    data = good_data(pools=(
        PoolQuota("premium-interactions", "Premium requests", "monthly", 0.14, 1.8e9,
                  remaining_requests=42, limit_requests=300),
        PoolQuota("chat", "Chat", "monthly", None, 1.8e9, unlimited=True),
    ), models=())
    s = samples(snapshot(data))
    assert s["llm_quota_credits_remaining"] == [
        ({"provider": "antigravity", "account": "work", "credit_type": "GOOGLE_ONE_AI"}, 1000.0)]
    assert [(lbl["pool"], v) for lbl, v in s["llm_quota_pool_remaining_fraction"]] == [
        ("premium-interactions", 0.14)]
    assert [(lbl["pool"], v) for lbl, v in s["llm_quota_pool_remaining_requests"]] == [
        ("premium-interactions", 42.0)]
    assert [(lbl["pool"], v) for lbl, v in s["llm_quota_pool_limit_requests"]] == [
        ("premium-interactions", 300.0)]
    assert [(lbl["pool"], v) for lbl, v in s["llm_quota_pool_unlimited"]] == [("chat", 1.0)]


def test_pool_series() -> None:
    s = samples()
    assert s["llm_quota_pool_remaining_fraction"][0] == (
        {"provider": "antigravity", "account": "work", "pool": "claude-gpt", "window": "5h",
         "tier": "g1-pro-tier"}, 0.0)
    assert s["llm_quota_pool_reset_timestamp_seconds"][0][1] == 1.8e9 + 60


def test_failed_account_has_up_zero_and_no_quota_series() -> None:
    s = samples()
    up = {lbl["account"]: v for lbl, v in s["llm_quota_up"]}
    assert up == {"work": 1.0, "broken": 0.0}
    for name in ("llm_quota_remaining_fraction", "llm_quota_reset_timestamp_seconds",
                 "llm_quota_pool_remaining_fraction", "llm_quota_account_info",
                 "llm_quota_effective_remaining_fraction", "llm_quota_credits_remaining"):
        assert all(lbl["account"] != "broken" for lbl, _ in s.get(name, []))
    last = {lbl["account"] for lbl, _ in s["llm_quota_last_success_timestamp_seconds"]}
    assert last == {"work"}


def test_error_counter_has_every_reason_from_zero() -> None:
    s = samples()
    broken = {lbl["reason"]: v for lbl, v in s["llm_quota_fetch_errors_total"]
              if lbl["account"] == "broken"}
    assert broken == {"auth": 3.0, "forbidden": 0.0, "rate_limited": 0.0, "upstream": 0.0,
                      "timeout": 0.0, "network": 0.0, "parse": 0.0, "internal": 0.0}


def test_account_info_and_build_info() -> None:
    s = samples()
    (labels, value), = s["llm_quota_account_info"]
    assert value == 1.0
    assert labels["tier"] == "g1-pro-tier" and labels["tier_name"] == "Google AI Pro"
    assert labels.get("email", "") == "" and labels.get("project", "") == ""
    (build, _), = s["llm_quota_exporter_build_info"]
    assert set(build) == {"version", "python_version"}


def test_no_sample_timestamps() -> None:
    text = generate_latest(registry_for(snapshot())).decode()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert len(line.rsplit("}", 1)[-1].split()) == 1, line


def test_min_interval_is_exposed_for_every_account() -> None:
    snap = snapshot()
    slow = replace(snap.accounts[1], min_interval=3600.0)
    s = samples(Snapshot(accounts=(snap.accounts[0], slow), taken_at=1.7e9))
    assert {lbl["account"]: v for lbl, v in s["llm_quota_min_interval_seconds"]} == {
        "work": 0.0, "broken": 3600.0}


def test_model_pool_info_names_the_pools_a_scoped_pool_sits_within() -> None:
    data = good_data(
        models=(ModelQuota("opus-x", "Opus X", "anthropic", 1.0, None, pools=("opus",)),),
        pools=(PoolQuota("opus", "Opus", "weekly", 0.5, None, within=("all",)),
               PoolQuota("all", "All", "5h", 0.2, None)))
    s = samples(snapshot(data))
    assert {(lbl["model"], lbl["pool"]) for lbl, _ in s["llm_quota_model_pool_info"]} == {
        ("opus-x", "opus"), ("opus-x", "all")}
    assert by_model(s, "llm_quota_effective_remaining_fraction") == {"opus-x": 0.2}


def test_the_direct_text_is_byte_for_byte_what_prometheus_client_writes() -> None:
    awkward = AccountSnapshot(
        provider="antigravity", account="we\\ird", up=True,
        data=good_data(info=AccountInfo(tier='t"1', tier_name="line\nbreak \\ back")),
        error=None, duration_seconds=0.0001234, fetched_at=1.7e9, last_success=1.7e9,
        errors_total={"auth": 12345678901}, sources=SOURCES, min_interval=float("inf"))
    for snap in (snapshot(), Snapshot(accounts=(awkward,), taken_at=1.7e9),
                 Snapshot(accounts=(), taken_at=1.7e9)):
        assert text(snap) == generate_latest(registry_for(snap))


# The kept data lines: each account's lines written once per data object.

AS_OF = 1.7e9
Written = list[tuple[str, AccountData]]


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> Written:
    """Every (account, data) whose data lines are written, as they are written."""
    calls: Written = []
    write = collector._DataFamilies.quotas

    def spy(self: Any, ids: list[str], data: AccountData) -> None:
        calls.append((ids[1], data))
        write(self, ids, data)

    monkeypatch.setattr(collector._DataFamilies, "quotas", spy)
    return calls


def account(name: str, **given: Any) -> AccountSnapshot:
    """A healthy account with its own data object (fetched at AS_OF) unless given one."""
    fields: dict[str, Any] = dict(
        provider="antigravity", account=name, up=True, data=good_data(as_of=AS_OF),
        error=None, duration_seconds=0.25, fetched_at=AS_OF, last_success=AS_OF,
        errors_total={"timeout": 2}, skipped_total={"models": 5}, sources=SOURCES)
    return AccountSnapshot(**(fields | given))


def snap_of(*accounts: AccountSnapshot) -> Snapshot:
    return Snapshot(accounts=accounts, taken_at=AS_OF)


def rescrape(snap: Snapshot, **health: Any) -> Snapshot:
    """The next scrape: new account snapshots, every data object the same."""
    return snap_of(*(replace(a, **health) for a in snap.accounts))


def render(renderer: Renderer, snap: Snapshot, written: Written) -> list[str]:
    """Renders `snap`, checks it byte for byte against prometheus_client's, and
    returns the accounts whose data lines were written (not reused)."""
    written.clear()
    body = renderer.text(snap)
    wrote = [name for name, _ in written]
    assert body == generate_latest(registry_for(snap))
    return wrote


def test_a_first_render_writes_every_account_with_data(written: Written) -> None:
    snap = snap_of(account("a"), account("down", data=None, up=False), account("b"))
    assert render(Renderer(), snap, written) == ["a", "b"]


def test_a_second_render_reuses_every_unchanged_data_object(written: Written) -> None:
    renderer = Renderer()
    first = snap_of(account("a"), account("down", data=None, up=False), account("b"))
    render(renderer, first, written)
    again = rescrape(first)
    assert render(renderer, again, written) == []
    assert render(renderer, again, written) == []
    assert renderer.text(again) == Renderer().text(again) == renderer.text(first)


def test_only_accounts_with_new_data_objects_are_written_again(written: Written) -> None:
    renderer = Renderer()
    a, b, c = account("a"), account("b"), account("c")
    render(renderer, snap_of(a, b, c), written)
    assert b.data is not None
    models = (replace(b.data.models[0], remaining_fraction=0.5), *b.data.models[1:])
    newer = replace(b, data=replace(b.data, models=models, credits=(), as_of=AS_OF + 60))
    snap = snap_of(a, newer, c)
    assert render(renderer, snap, written) == ["b"]
    body = renderer.text(snap).decode()
    own = '{account="b",model="claude-sonnet-4-5",provider="antigravity",tier="g1-pro-tier"}'
    assert f"llm_quota_remaining_fraction{own} 0.5\n" in body
    assert 'llm_quota_credits_remaining{account="b"' not in body
    assert 'llm_quota_credits_remaining{account="a"' in body
    # A later change of the order of accounts alone writes nothing again.
    assert render(renderer, snap_of(c, newer, a), written) == []


def test_an_equal_but_new_data_object_is_written_again(written: Written) -> None:
    renderer = Renderer()
    a = account("a")
    render(renderer, snap_of(a), written)
    assert a.data is not None
    equal = replace(a, data=replace(a.data))
    assert equal.data == a.data and equal.data is not a.data
    assert render(renderer, snap_of(equal), written) == ["a"]
    assert render(renderer, snap_of(equal), written) == []


def test_the_kept_lines_belong_to_a_provider_and_account_not_to_the_data(
        written: Written) -> None:
    renderer = Renderer()
    shared = good_data(as_of=AS_OF)
    a = account("a", data=shared)
    render(renderer, snap_of(a), written)
    # The same object under another account, and under another provider: their own lines.
    twins = snap_of(a, account("b", data=shared), replace(a, provider="gemini-cli"))
    assert render(renderer, twins, written) == ["b", "a"]
    assert render(renderer, twins, written) == []


def test_an_account_that_left_the_snapshot_is_dropped(written: Written) -> None:
    renderer = Renderer()
    a, b = account("a"), account("b")
    render(renderer, snap_of(a, b), written)
    assert render(renderer, snap_of(a), written) == []
    # Back with the very same data object: nothing was kept for it.
    assert render(renderer, snap_of(a, b), written) == ["b"]
    # An account that is down (no data) keeps nothing either.
    render(renderer, snap_of(a, replace(b, up=False, data=None)), written)
    assert render(renderer, snap_of(a, b), written) == ["b"]


def test_data_without_a_fetch_time_is_written_every_time(written: Written) -> None:
    # as_of None reads as "now", so its effective numbers may change with the clock.
    renderer = Renderer()
    snap = snap_of(account("a", data=good_data()), account("b"))
    assert render(renderer, snap, written) == ["a", "b"]
    assert render(renderer, rescrape(snap), written) == ["a"]


def test_awkward_labels_and_values_stay_identical_when_reused(written: Written) -> None:
    nan, inf = float("nan"), float("inf")
    data = good_data(
        as_of=AS_OF,
        info=AccountInfo(tier='t"1', tier_name="line\nbreak \\ back", project="p\\n",
                         email='"q"@example.com'),
        models=(ModelQuota('m\\"1', 'Odd "name"\n', "", nan, inf, pools=("p\n",)),
                ModelQuota("m2", "M2", "x", 1e-9, -inf, pools=("p\n",), omitted=True),
                ModelQuota("m3", "M3", "x", -0.0, 1.8e9 + 0.5)),
        pools=(PoolQuota("p\n", "P", "5h", nan, inf, remaining_requests=-inf,
                         limit_requests=1e21, remaining_credits=12345678901.0,
                         limit_credits=0.1 + 0.2),
               PoolQuota("p\n", "P", 'w"k', None, None, omitted=True, overage=True)),
        credits=(Credit('c"\\', -inf), Credit("", nan)))
    weird = account("we\\ird", data=data, provider='pro"v', duration_seconds=nan,
                    min_interval=inf, errors_total={"auth": 12345678901})
    renderer = Renderer()
    snap = snap_of(weird, account("plain"))
    assert render(renderer, snap, written) == ["we\\ird", "plain"]
    again = rescrape(snap, duration_seconds=0.0001234, last_success=None)
    assert render(renderer, again, written) == []
    assert render(renderer, rescrape(again, min_interval=-inf), written) == []


def test_health_series_change_while_the_data_lines_are_reused(written: Written) -> None:
    renderer = Renderer()
    a = account("a")
    render(renderer, snap_of(a, account("b")), written)
    down = FetchError(Reason.TIMEOUT, "summary: timed out")
    later = replace(a, up=False, error=down, duration_seconds=9.5, last_success=AS_OF + 30,
                    errors_total={"timeout": 3, "auth": 1}, skipped_total={"models": 6},
                    sources=(SourceResult("models", skipped=1), SourceResult("summary", down)),
                    min_interval=60.0, cached=True)
    snap = snap_of(later, account("b", data=None, up=False))
    assert render(renderer, snap, written) == []
    s: Samples = {}
    for family in text_string_to_metric_families(renderer.text(snap).decode()):
        for sample in family.samples:
            s.setdefault(sample.name, []).append((sample.labels, sample.value))

    def of_a(name: str) -> dict[str, float]:
        return {lbl.get("reason", lbl.get("source", "")): v for lbl, v in s[name]
                if lbl["account"] == "a"}

    assert of_a("llm_quota_up") == {"": 0.0}
    assert of_a("llm_quota_fetch_duration_seconds") == {"": 9.5}
    assert of_a("llm_quota_min_interval_seconds") == {"": 60.0}
    assert of_a("llm_quota_last_success_timestamp_seconds") == {"": AS_OF + 30}
    assert of_a("llm_quota_fetch_errors_total")["timeout"] == 3.0
    assert of_a("llm_quota_fetch_errors_total")["auth"] == 1.0
    assert of_a("llm_quota_source_up") == {"models": 1.0, "summary": 0.0}
    assert of_a("llm_quota_parse_skipped_total") == {"models": 6.0, "summary": 0.0}
    assert len(s["llm_quota_remaining_fraction"]) == 3  # a's kept data lines, b has none


def test_the_module_text_keeps_lines_between_calls(written: Written) -> None:
    snap = snap_of(account("only-in-test-the-module-text"))
    text(snap)
    again = rescrape(snap, duration_seconds=1.0)
    want = generate_latest(registry_for(again))
    written.clear()
    assert text(again) == want
    assert written == []


def test_concurrent_renders_never_write_a_wrong_line() -> None:
    renderer = Renderer()
    names = [f"acc{i}" for i in range(12)]
    one = snap_of(*(account(n) for n in names))
    other = good_data(as_of=AS_OF + 1, credits=(Credit("X", 5.0),), pools=())
    two = snap_of(*(account(n, data=other, duration_seconds=1.5) for n in names))
    some = snap_of(*one.accounts[::3])
    wanted = [(snap, generate_latest(registry_for(snap))) for snap in (one, two, some)]
    wrong: list[str] = []

    def scrape(snap: Snapshot, want: bytes) -> None:
        for _ in range(40):
            if renderer.text(snap) != want:
                wrong.append(f"{len(snap.accounts)} accounts")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=scrape, args=pair) for pair in wanted * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []
