"""Which account now: /api/v1/best and `quota --best` pick the account with the most
effective quota left for a model (ties: the earlier reset), and say when none will do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.quota import EXHAUSTED_AT, best, candidates
from exporter.server.api import handle_best
from exporter.simulator import SimAccount, Simulator
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    ModelQuota,
    PoolQuota,
    Snapshot,
)
from tests.procs import start_exporter, write_config
from tests.unit.test_quota_cmd import run
from tests.view_samples import NOW, FakeEngine, failed_account, partial_account, work_account

RULES = Path(__file__).resolve().parents[2] / "prometheus" / "rules"


def account(name: str, own: float | None, pool: float | None = None, reset: float = NOW + 600,
            provider: str = "antigravity") -> AccountSnapshot:
    pools = () if pool is None else (
        PoolQuota("claude-gpt", "Claude and GPT models", "5h", pool, reset + 60),)
    data = AccountData(
        info=AccountInfo("g1-pro-tier", "Google AI Pro"),
        models=(ModelQuota("claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic", own, reset,
                           pools=("claude-gpt",) if pools else (), omitted=own is None),),
        pools=pools, as_of=NOW,
    )
    return AccountSnapshot(provider, name, True, data, None, 0.1, NOW, NOW)


def snap(*accounts: AccountSnapshot) -> Snapshot:
    return Snapshot(accounts=accounts, taken_at=NOW)


def test_the_most_effective_quota_wins_not_the_highest_own_number() -> None:
    # "a" says 100% but its pool is empty; "b" really has 40% left.
    s = snap(account("a", 1.0, pool=0.0), account("b", 0.4, pool=0.9))
    found = best(s, "claude-sonnet-4-5")
    assert found is not None and (found.account, found.fraction) == ("b", 0.4)
    assert found.usable


def test_a_tie_goes_to_the_earlier_reset() -> None:
    s = snap(account("late", 0.5, reset=NOW + 7200), account("soon", 0.5, reset=NOW + 60))
    found = best(s, "claude-sonnet-4-5")
    assert found is not None and found.account == "soon"


def test_unknown_candidates_are_named_but_never_chosen_and_down_accounts_left_out() -> None:
    s = snap(partial_account(), failed_account(), account("no-number", None),
             account("ok", 0.2))
    found = candidates(s, "claude-sonnet-4-5")
    assert [(c.account, c.known) for c in found] == [
        ("work", False), ("no-number", False), ("ok", True)]
    assert found[0].why == "pool data unavailable"
    assert found[1].why == "no number from upstream and no pool data"
    chosen = best(s, "claude-sonnet-4-5")
    assert chosen is not None and chosen.account == "ok"


def test_an_omitted_fraction_is_resolved_from_its_pool_before_choosing() -> None:
    # No number of its own, but its pool says 60%: a known 0.6, better than 0.4.
    s = snap(account("pool-says", None, pool=0.6), account("b", 0.4))
    found = best(s, "claude-sonnet-4-5")
    assert found is not None and (found.account, found.fraction) == ("pool-says", 0.6)


def test_at_the_exhausted_threshold_is_not_usable() -> None:
    # The alert pages at <= 0.01, so 0.01 itself is not usable; a step above it is.
    assert not best(snap(account("a", EXHAUSTED_AT)), "claude-sonnet-4-5").usable  # type: ignore[union-attr]
    assert best(snap(account("a", 0.02)), "claude-sonnet-4-5").usable  # type: ignore[union-attr]


def test_nothing_usable_is_still_an_answer_with_usable_false() -> None:
    found = best(snap(account("a", 0.004)), "claude-sonnet-4-5")
    assert found is not None and not found.usable and found.fraction is not None
    assert found.fraction < EXHAUSTED_AT


def test_a_pool_name_is_matched_for_providers_that_count_by_pool() -> None:
    pools = (PoolQuota("all", "All models", "5h", 0.6, NOW + 100),
             PoolQuota("all", "All models", "weekly", 0.3, NOW + 9000),
             PoolQuota("opus", "Opus", "weekly", 0.8, NOW + 9000, within=("all",)))
    claude = AccountSnapshot("claude", "max", True, AccountData(
        AccountInfo("max", ""), pools=pools), None, 0.1, NOW, NOW)
    found = best(snap(claude), "opus")
    # Opus's own weekly window says 80%, the plan-wide weekly one 30%: 30% binds.
    assert found is not None and found.fraction == pytest.approx(0.3)


def test_the_provider_filter_narrows_the_choice() -> None:
    s = snap(account("a", 0.9, provider="antigravity"), account("b", 0.5, provider="other"))
    found = best(s, "claude-sonnet-4-5", provider="other")
    assert found is not None and found.account == "b"


def test_the_exhausted_threshold_is_the_alert_threshold() -> None:
    text = (RULES / "llm-quota-thresholds.yml").read_text()
    assert f"vector({EXHAUSTED_AT:.2f})" in text


# -- /api/v1/best -------------------------------------------------------------------------


def engine_of(*accounts: AccountSnapshot) -> FakeEngine:
    return FakeEngine(snap(*accounts))


def test_api_best_answers_with_the_spec_fields() -> None:
    engine = engine_of(account("a", 1.0, pool=0.0), account("b", 0.4, pool=0.9))
    response = handle_best("GET", {"model": ["claude-sonnet-4-5"]}, engine, 5.0)
    assert response.status == 200
    doc = json.loads(response.body)
    assert doc == {"account": "b", "provider": "antigravity", "model": "claude-sonnet-4-5",
                   "effective_remaining_fraction": 0.4, "unlimited": False,
                   "reset_time": "2026-11-28T19:00:00Z", "usable": True, "candidates": 2,
                   "unknown": []}
    # A view: it reuses a recent snapshot rather than calling upstream.
    assert engine.calls[-1]["max_age"] == 30.0


def test_api_best_for_an_unknown_model_is_404_and_bad_requests_are_400() -> None:
    engine = engine_of(work_account())
    response = handle_best("GET", {"model": ["gpt-9"]}, engine, None)
    assert response.status == 404 and "gpt-9" in json.loads(response.body)["error"]["message"]
    assert handle_best("GET", {}, engine, None).status == 400
    assert handle_best("GET", {"model": ["a", "b"]}, engine, None).status == 400
    assert handle_best("GET", {"model": ["a"], "modle": ["x"]}, engine, None).status == 400
    assert handle_best("POST", {"model": ["a"]}, engine, None).status == 405


def test_api_best_is_503_when_every_holder_of_the_model_has_unknown_pools() -> None:
    response = handle_best("GET", {"model": ["gemini-3-flash"]}, engine_of(partial_account()),
                           None)
    assert response.status == 503
    doc = json.loads(response.body)
    assert "unknown right now" in doc["error"]["message"]
    assert doc["unknown"] == [{"account": "work", "provider": "antigravity",
                               "reason": "pool data unavailable"}]


def test_api_best_says_which_candidates_were_unknown() -> None:
    engine = engine_of(account("a", None), account("b", 0.4, pool=0.9))
    doc = json.loads(handle_best("GET", {"model": ["claude-sonnet-4-5"]}, engine, 5.0).body)
    assert doc["account"] == "b" and doc["candidates"] == 2
    assert doc["unknown"] == [{"account": "a", "provider": "antigravity",
                               "reason": "no number from upstream and no pool data"}]


# -- quota --best -------------------------------------------------------------------------


def test_quota_best_prints_only_the_account_name() -> None:
    code, text = run(engine_of(account("a", 1.0, pool=0.0), account("b", 0.4, pool=0.9)),
                     "--best", "claude-sonnet-4-5")
    assert (code, text) == (0, "b\n")


def test_quota_best_exits_1_with_the_reason_when_none_is_usable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, text = run(engine_of(account("a", 0.9, pool=0.0)), "--best", "claude-sonnet-4-5")
    assert (code, text) == (1, "")
    assert "no account has usable quota" in capsys.readouterr().err
    code, _ = run(engine_of(work_account()), "--best", "gpt-9")
    assert code == 1 and "gpt-9" in capsys.readouterr().err


def test_quota_best_notes_the_accounts_it_could_not_consider(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, text = run(engine_of(account("a", None), account("b", 0.4)),
                     "--best", "claude-sonnet-4-5")
    assert (code, text) == (0, "b\n")
    err = capsys.readouterr().err
    assert "a not considered" in err and "no number from upstream" in err


def test_quota_best_json_is_the_api_document() -> None:
    engine = engine_of(account("b", 0.4, pool=0.9))
    code, text = run(engine, "--best", "claude-sonnet-4-5", "--output", "json")
    assert code == 0 and json.loads(text)["account"] == "b"


# -- end to end -----------------------------------------------------------------------------


def test_best_end_to_end_skips_the_account_whose_pool_is_empty(tmp_path: Path) -> None:
    accounts = [
        SimAccount("full-but-empty-pool", drain_per_hour=0.0,
                   model_fractions={"claude-sonnet-4-5": 1.0},
                   pool_fractions={"claude-gpt/5h": 0.0}),
        SimAccount("half", drain_per_hour=0.0, model_fractions={"claude-sonnet-4-5": 0.6},
                   pool_fractions={"claude-gpt/5h": 0.9, "claude-gpt/weekly": 0.9}),
    ]
    with Simulator(accounts) as sim:
        exp = start_exporter(write_config(tmp_path, sim.exporter_config(tmp_path)))
        try:
            doc = exp.get("/api/v1/best?model=claude-sonnet-4-5").json()
            assert (doc["account"], doc["usable"]) == ("half", True)
            assert doc["effective_remaining_fraction"] == pytest.approx(0.6, abs=1e-3)
            assert exp.get("/api/v1/best?model=nope").status_code == 404
        finally:
            exp.stop()

