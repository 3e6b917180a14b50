"""The `quota` subcommand: output, filters, exit codes, --watch."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from exporter.cli.args import add_quota_arguments
from exporter.cli.quota import run_quota
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    ModelQuota,
    PoolQuota,
    Snapshot,
)
from exporter.views.document import to_json
from tests.view_samples import (
    NOW,
    FakeEngine,
    failed_account,
    free_account,
    sample_snapshot,
    work_account,
)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class StopAfter:
    """A sleep() that lets `rounds` sleeps pass, then acts like Ctrl-C."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if len(self.slept) > self.rounds:
            raise KeyboardInterrupt


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="quota")
    add_quota_arguments(parser)
    return parser.parse_args(list(argv))


def run(engine: FakeEngine, *argv: str, out: io.StringIO | None = None) -> tuple[int, str]:
    stream = io.StringIO() if out is None else out
    code = run_quota(parse(*argv), engine, out=stream, now=lambda: NOW)
    return code, stream.getvalue()


def snapshot_of(*accounts: AccountSnapshot) -> Snapshot:
    return Snapshot(accounts=accounts, taken_at=NOW)


def up_account(
    name: str,
    *,
    models: tuple[float, ...] = (),
    pools: tuple[float | None, ...] = (),
    pools_known: bool = True,
) -> AccountSnapshot:
    data = AccountData(
        info=AccountInfo(tier="standard-tier", tier_name=""),
        models=tuple(
            ModelQuota(f"m{i}", f"Model {i}", "google", f, NOW + 60) for i, f in enumerate(models)
        ),
        pools=tuple(
            PoolQuota(f"p{i}", f"Pool {i}", "5h", f, NOW + 60, unlimited=f is None)
            for i, f in enumerate(pools)
        ),
        pools_known=pools_known,
    )
    return AccountSnapshot(
        provider="antigravity", account=name, up=True, data=data, error=None,
        duration_seconds=0.1, fetched_at=NOW, last_success=NOW,
    )


@pytest.fixture(autouse=True)
def _terminal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's own NO_COLOR, TERM=dumb or narrow COLUMNS must not change results."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "100")


def test_all_accounts_up_exits_0_and_prints_every_account() -> None:
    engine = FakeEngine(snapshot_of(work_account(), free_account()))
    code, text = run(engine)
    assert code == 0
    assert "Google AI Pro (g1-pro-tier)" in text
    assert "no pools (no licence)" in text
    assert engine.calls == [{"timeout": None, "accounts": None, "force": False}]


def test_a_failed_account_exits_1_and_is_shown_with_its_reason() -> None:
    code, text = run(FakeEngine(sample_snapshot()))
    assert code == 1
    assert "FAILED" in text
    assert "auth: token refresh failed" in text


def test_fail_below_exits_3_when_a_model_is_below() -> None:
    engine = FakeEngine(snapshot_of(up_account("a", models=(0.9, 0.3))))
    assert run(engine, "--fail-below", "0.5")[0] == 3
    assert run(engine, "--fail-below", "0.3")[0] == 0


def test_fail_below_exits_3_when_a_pool_is_below() -> None:
    engine = FakeEngine(snapshot_of(up_account("a", models=(1.0,), pools=(0.05, 0.9))))
    assert run(engine, "--fail-below", "0.1")[0] == 3


def test_fail_below_ignores_unknown_and_unlimited_numbers() -> None:
    # The pool source failed: the models' effective numbers are unknown, not low.
    engine = FakeEngine(snapshot_of(up_account("a", models=(0.3, 0.5), pools_known=False)))
    assert run(engine, "--fail-below", "0.4")[0] == 0
    engine = FakeEngine(snapshot_of(up_account("a", models=(0.5,), pools=(None,))))
    assert run(engine, "--fail-below", "0.4")[0] == 0


def test_fail_below_reads_a_model_with_its_pools() -> None:
    # Sonnet says 12% but its pool is empty: the effective 0 trips the threshold.
    engine = FakeEngine(snapshot_of(work_account()))
    assert run(engine, "--fail-below", "0.01")[0] == 3


def test_exhausted_quota_trips_any_positive_threshold() -> None:
    engine = FakeEngine(snapshot_of(work_account()))  # its claude-gpt 5h pool is at 0
    assert run(engine, "--fail-below", "0.01")[0] == 3
    assert run(engine, "--fail-below", "0")[0] == 0


def test_failed_account_wins_over_fail_below() -> None:
    engine = FakeEngine(snapshot_of(up_account("a", models=(0.01,)), failed_account()))
    assert run(engine, "--fail-below", "0.5")[0] == 1


def test_unknown_account_exits_2_naming_it_without_fetching(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = FakeEngine(sample_snapshot())
    code, text = run(engine, "--account", "work", "--account", "wrok")
    assert code == 2
    assert text == ""
    err = capsys.readouterr().err
    assert "unknown account 'wrok'" in err
    assert "configured: work, personal, team-ci" in err
    assert engine.calls == []


def test_account_filter_fetches_and_shows_only_those() -> None:
    engine = FakeEngine(sample_snapshot())
    code, text = run(engine, "--account", "personal")
    assert code == 0  # the failing team-ci account was not selected
    assert engine.calls == [{"timeout": None, "accounts": ["personal"], "force": False}]
    assert "personal" in text
    assert "work" not in text and "team-ci" not in text


def test_provider_filter_fetches_only_that_providers_accounts() -> None:
    engine = FakeEngine(
        sample_snapshot(),
        providers={"work": "antigravity", "personal": "gemini-cli", "team-ci": "antigravity"},
    )
    code, text = run(engine, "--provider", "gemini-cli")
    assert code == 0
    assert engine.calls[-1]["accounts"] == ["personal"]
    assert "personal  gemini-cli" in text
    assert "work" not in text


def test_provider_without_accounts_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    engine = FakeEngine(sample_snapshot())
    code, _ = run(engine, "--provider", "codex")
    assert code == 2
    err = capsys.readouterr().err
    assert "error: no account has provider 'codex' (configured providers: antigravity)" in err
    assert engine.calls == []


def test_account_and_provider_that_do_not_meet_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = FakeEngine(sample_snapshot(), providers={"personal": "gemini-cli"})
    code, _ = run(engine, "--account", "work", "--provider", "gemini-cli")
    assert code == 2
    assert "none of 'work' has provider 'gemini-cli'" in capsys.readouterr().err
    assert engine.calls == []


def test_json_output_is_the_api_schema() -> None:
    snapshot = sample_snapshot()
    code, text = run(FakeEngine(snapshot), "--output", "json")
    assert code == 1
    doc = json.loads(text)
    assert doc == json.loads(json.dumps(to_json(snapshot)))
    work, personal, failed = doc["accounts"]
    opus = next(m for m in work["models"] if m["model"] == "claude-opus-4-5-thinking")
    assert opus["remaining_fraction"] is None and opus["fraction_omitted"] is True
    assert opus["effective_remaining_fraction"] == 0.0
    sonnet = next(m for m in work["models"] if m["model"] == "claude-sonnet-4-5")
    assert (sonnet["remaining_fraction"], sonnet["effective_remaining_fraction"]) == (0.12, 0.0)
    assert personal["pools_available"] is False
    assert failed["error"]["reason"] == "auth"
    assert failed["up"] is False


def test_json_output_respects_the_account_filter() -> None:
    _, text = run(FakeEngine(sample_snapshot()), "--output", "json", "--account", "work")
    assert [a["account"] for a in json.loads(text)["accounts"]] == ["work"]


def test_table_output_to_a_pipe_has_no_escape_codes() -> None:
    _, text = run(FakeEngine(sample_snapshot()))
    assert "\x1b" not in text
    assert "78%" in text


def test_no_color_on_a_tty_has_no_escape_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    _, text = run(FakeEngine(sample_snapshot()), out=FakeTTY())
    assert "\x1b" not in text
    assert "78%" in text


def test_tty_output_is_coloured() -> None:
    _, text = run(FakeEngine(sample_snapshot()), out=FakeTTY())
    assert "\x1b[" in text


def test_watch_to_a_pipe_prints_each_round_and_exits_130_on_ctrl_c() -> None:
    engine = FakeEngine(snapshot_of(work_account()))
    sleep = StopAfter(rounds=1)
    out = io.StringIO()
    code = run_quota(parse("--watch", "30s"), engine, out=out, now=lambda: NOW, sleep=sleep)
    assert code == 130
    assert len(engine.calls) == 2
    assert sleep.slept == [30.0, 30.0]
    assert out.getvalue().count("Google AI Pro (g1-pro-tier)") == 2
    assert "\x1b" not in out.getvalue()


def test_watch_json_prints_one_document_per_round() -> None:
    engine = FakeEngine(snapshot_of(work_account()))
    out = io.StringIO()
    args = parse("--watch", "1m", "--output", "json")
    assert run_quota(args, engine, out=out, now=lambda: NOW, sleep=StopAfter(rounds=2)) == 130
    decoder = json.JSONDecoder()
    text, docs = out.getvalue().strip(), []
    while text:
        doc, end = decoder.raw_decode(text)
        docs.append(doc)
        text = text[end:].strip()
    assert len(docs) == 3
    assert all(d["accounts"][0]["account"] == "work" for d in docs)


def test_watch_on_a_tty_redraws_in_place() -> None:
    engine = FakeEngine(snapshot_of(work_account()))
    out = FakeTTY()
    code = run_quota(parse("--watch", "5s"), engine, out=out, now=lambda: NOW, sleep=StopAfter(2))
    assert code == 130
    assert len(engine.calls) == 3
    text = out.getvalue()
    assert "every 5s, updated" in text
    # Live moves the cursor up over the previous frame instead of appending.
    assert "\x1b[1A" in text or "\x1b[2K" in text


def test_ctrl_c_during_a_fetch_exits_130() -> None:
    class Interrupted(FakeEngine):
        def collect(self, *args: object, **kwargs: object) -> Snapshot:
            raise KeyboardInterrupt

    assert run(Interrupted(sample_snapshot()))[0] == 130


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fail-below", "1.5"], "outside 0..1"),
        (["--fail-below", "ten"], "'ten' is not a number"),
        (["--watch", "0s"], "must be longer than zero"),
        (["--watch", "soon"], "'soon' is not a duration"),
        (["--output", "yaml"], "invalid choice: 'yaml'"),
    ],
)
def test_bad_arguments_are_usage_errors_naming_the_value(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
