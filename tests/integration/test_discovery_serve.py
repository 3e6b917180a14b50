"""Discovered accounts served by a real exporter process with a temporary home:
zero configuration (no config file), new and vanished accounts picked up without a
restart, `discover: true` beside hand-written accounts, and a config written by
`discover --write-config` served end to end against the simulator.

Without a config the exporter talks to the providers' real hosts, which tests never
do: those tests serve only accounts whose token is expired and that have no OAuth
client, which fail before any request, and they check the accounts served (on
/api/v1/targets, which never fetches) before anything fetches. Tests that fetch
point every account at the simulator on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.discovery import LOCATIONS, Env, Scanner
from exporter.providers import REGISTRY
from exporter.simulator import SimAccount, Simulator
from exporter.simulator.upstreams import UPSTREAMS
from tests.discovery_home import PAST, Home, rfc3339
from tests.integration.test_discover_cmd import home_env, run
from tests.procs import ExporterProcess, by_label, start_exporter, write_config
from tests.unit.test_discovery import assert_no_secret

FAST_RESCAN = ("--discovery.rescan-interval", "300ms")
MODELS = ("gemini-3-pro-high", "gemini-3-flash", "claude-sonnet-4-5")


@pytest.fixture
def home(tmp_path: Path) -> Home:
    (tmp_path / "home").mkdir()
    return Home(tmp_path / "home")


@pytest.fixture
def processes() -> Iterator[list[ExporterProcess]]:
    started: list[ExporterProcess] = []
    yield started
    for proc in started:
        proc.stop()


def zero_config(home: Home, started: list[ExporterProcess], *extra: str) -> ExporterProcess:
    """The exporter with no config file: run where there is none, on this home."""
    proc = ExporterProcess(["--web.listen-address", "127.0.0.1:0", *extra],
                           env=home_env(home.root), cwd=home.root.parent)
    started.append(proc)
    return proc


def targets(proc: ExporterProcess) -> list[str]:
    """The accounts served; answered without fetching any."""
    groups = proc.get("/api/v1/targets").json()
    return sorted(t for g in groups for t in g["targets"])


def wait_until(check: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.1)


def names_now(home: Home) -> dict[str, str]:
    """Shown file -> account name, as discovery sees the home now (in process)."""
    return {a.shown: a.name for a in Scanner(Env(home=home.root)).scan().served}


# -- zero configuration ---------------------------------------------------------------


def test_without_a_config_the_accounts_found_are_served(
    home: Home, processes: list[ExporterProcess],
) -> None:
    home.cliproxy_antigravity("alice@example.com", expires=PAST)
    home.manager("alice@example.com", expires=PAST)  # the same account
    home.agy("ivan@example.com", expires=PAST)
    before = home.snapshot()
    names = names_now(home)
    proc = zero_config(home, processes, *FAST_RESCAN)
    assert targets(proc) == sorted(names.values())  # before anything fetches
    for shown, name in names.items():
        proc.wait_for_log(f"msg=\"using discovered account\" account={name}")
        assert f"file={shown}" in proc.logs
    proc.wait_for_log('msg="discovery looked" places="~/.cli-proxy-api (1 account in 1 file)')
    page = proc.get("/").text
    assert "<h2>Discovered accounts</h2>" in page
    assert "~/.cli-proxy-api/antigravity-&lt;email&gt;.json" in page
    assert "same account as " in page and "~/.antigravity_tools/accounts/" in page
    metrics = proc.get("/metrics").text
    assert by_label(metrics, "llm_quota_up", "account") == {(n,): 0.0 for n in names.values()}
    errors = by_label(metrics, "llm_quota_fetch_errors_total", "reason")
    assert {reason for (reason,), n in errors.items() if n} == {"auth"}
    quota = proc.get("/api/v1/quota").json()
    messages = [a["error"]["message"] for a in quota["accounts"]]
    assert all("give this account an oauth_client" in m for m in messages)
    proc.stop()
    assert_no_secret(proc.logs + page + metrics + json.dumps(quota))
    assert home.snapshot() == before


def test_accounts_signed_in_or_out_later_are_picked_up_without_a_restart(
    home: Home, processes: list[ExporterProcess],
) -> None:
    proc = zero_config(home, processes, *FAST_RESCAN)
    assert targets(proc) == []
    proc.wait_for_log("msg=\"no accounts found; the exporter serves none until one appears\"")
    assert proc.get("/-/ready").status_code == 200
    assert proc.get("/metrics").status_code == 200
    page = proc.get("/").text
    assert "No accounts found yet" in page and "<details open>" in page
    agy = home.agy("ivan@example.com", expires=PAST)
    (name,) = names_now(home).values()
    wait_until(lambda: targets(proc) == [name])
    assert f"msg=\"discovered a new account\" account={name}" in proc.logs
    agy.unlink()
    wait_until(lambda: targets(proc) == [])
    assert f"msg=\"discovered account is gone\" account={name}" in proc.logs
    proc.stop()
    assert_no_secret(proc.logs)


def test_sighup_looks_for_accounts_again(home: Home, processes: list[ExporterProcess]) -> None:
    proc = zero_config(home, processes, "--discovery.rescan-interval", "1h")
    assert targets(proc) == []
    home.agy("ivan@example.com", expires=PAST)
    # Neither a scrape nor the targets look again, and the next periodic look is an
    # hour away. The SIGHUP below is the control: the same check then sees the account.
    assert proc.get("/metrics").status_code == 200
    assert targets(proc) == []
    proc.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: targets(proc) == list(names_now(home).values()))
    assert "msg=\"config reloaded\" accounts=1" in proc.logs


# -- against the simulator ----------------------------------------------------------------


def _google_token(sim: Simulator, name: str) -> tuple[str, str, float]:
    return sim.credentials(name, expiring=True)


def _sim_entries(sim: Simulator, directory: Path, names: list[str] | None = None,
                 ) -> list[dict[str, Any]]:
    entries = sim.exporter_config(directory, accounts=names)["accounts"]
    assert isinstance(entries, list)
    return entries


def _pointing_at(sim: Simulator, entry: dict[str, Any]) -> dict[str, Any]:
    """What a user adds to an account to use the simulator: its endpoints, token URL
    and OAuth client."""
    tuning = {k: entry[k] for k in ("endpoints", "token_url") if k in entry}
    if "token_url" in entry:
        tuning["oauth_client"] = {"client_id": sim.client_id,
                                  "client_secret": sim.client_secret}
    return tuning


def _with_discovery(config: Path, home: Home, *extra: str) -> ExporterProcess:
    """The exporter on a config, discovering in the test's home (never the machine's)."""
    return ExporterProcess(["--config.file", str(config), "--web.listen-address",
                            "127.0.0.1:0", *extra], env=home_env(home.root))


def _write_antigravity_files(sim: Simulator, home: Home) -> dict[str, str]:
    """Each Antigravity format, with the simulator's tokens; shown file -> sim account."""
    written: dict[Path, str] = {}
    sim.exporter_config(home.root / ".cli-proxy-api", accounts=["ag-cliproxy", "ag-both"])
    for name in ("ag-cliproxy", "ag-both"):
        written[home.root / ".cli-proxy-api" / f"antigravity-{sim.account(name).email}.json"] = (
            name)
    for name in ("ag-manager", "ag-both"):
        refresh, access, expires = _google_token(sim, name)
        written[home.manager(sim.account(name).email, uid=f"uid-{name}", expires=expires,
                             access=access, refresh=refresh)] = name
    refresh, access, expires = _google_token(sim, "ag-agy")
    written[home.agy(sim.account("ag-agy").email, expires=expires, access=access,
                     refresh=refresh)] = "ag-agy"
    refresh, _, _ = _google_token(sim, "ag-opencode")
    written[home.opencode({"email": sim.account("ag-opencode").email,
                           "refreshToken": refresh})] = "ag-opencode"
    return {str(p): n for p, n in written.items()}


def _place_in_home(path: Path, home: Home, provider: str) -> Path:
    """Move a credentials file the simulator wrote to where the tool whose format it
    is keeps it (the first location of its provider that reads it as its own: Kimi's
    and Gemini CLI's files look alike)."""
    env = Env(home=home.root)
    text = path.read_bytes().decode("utf-8", errors="replace")  # a SQLite store is not text
    for location in LOCATIONS:
        if provider not in location.providers:
            continue
        try:
            entries = (location.load(path) if location.load is not None
                       else location.read(text, path))
        except Exception:
            continue
        if entries and all(e.creds.tool in location.formats
                           and (e.creds.access_token or e.creds.refresh_token)
                           for e in entries):
            place = location.places(env)[0].path
            target = place / path.name if location.pattern else place
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            return target
    raise AssertionError(f"no location reads {path.name}")


# The simulator's credential styles that write a file in another tool's format: the
# CLI's own, and CLIProxyAPI's.
FILE_STYLES = ("file", "cliproxyapi")


def _other_accounts() -> list[SimAccount]:
    """An account per file style of each provider this build registers and the
    simulator simulates, beside Antigravity (whose formats are written above)."""
    return [SimAccount(f"{p}-{style}", provider=p, credential_style=style, drain_per_hour=0.0)
            for p in REGISTRY if p != "antigravity" and p in UPSTREAMS
            for style in FILE_STYLES if style in UPSTREAMS[p].credential_styles]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    accounts = [SimAccount(n, drain_per_hour=0.0) for n in (
        "ag-cliproxy", "ag-manager", "ag-agy", "ag-opencode", "ag-both", "ag-late")]
    accounts[0].credential_style = "file"
    accounts[4].credential_style = "file"
    accounts += _other_accounts()
    s = Simulator(accounts).start()
    yield s
    s.stop()


def test_the_written_config_serves_every_account_against_the_simulator(
    sim: Simulator, home: Home, tmp_path: Path,
) -> None:
    by_file = _write_antigravity_files(sim, home)
    others = {a.name for a in _other_accounts()}
    tuning: dict[str, dict[str, Any]] = {}  # sim account -> its endpoints, client, ...
    for entry in _sim_entries(sim, tmp_path / "staging"):
        name = entry["name"]
        tuning[name] = _pointing_at(sim, entry)
        if name in others:  # another provider's file, as its tool writes it
            place = _place_in_home(Path(entry["credentials"]["file"]), home, entry["provider"])
            by_file[str(place)] = name
    before = home.snapshot()
    written = tmp_path / "written.yml"
    result = run(home, "discover", "--write-config", str(written))
    assert result.returncode == 0, result.stderr
    checked = run(home, "check-config", "--config.file", str(written))
    assert checked.returncode == 0, checked.stderr  # as written, untouched
    # The user's tuning: each account pointed at the simulator, with its OAuth client.
    config = yaml.safe_load(written.read_text())
    served: dict[str, str] = {}  # account name -> sim account
    for account in config["accounts"]:
        sim_name = by_file[account["credentials"]["file"]]
        served[account["name"]] = sim_name
        account.update(tuning[sim_name])
    # ag-both once, though two tools hold it.
    assert sorted(served.values()) == sorted(
        ["ag-cliproxy", "ag-manager", "ag-agy", "ag-opencode", "ag-both", *others])
    proc = start_exporter(write_config(tmp_path, config, "tuned.yml"))
    try:
        text = proc.get("/metrics").text
    finally:
        proc.stop()
    assert by_label(text, "llm_quota_up", "account") == {(n,): 1.0 for n in served}
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    for name, sim_name in served.items():
        if sim.account(sim_name).provider != "antigravity":
            continue
        for model in MODELS:
            expected = sim.model_fraction(sim_name, model)
            assert fractions[(name, model)] == pytest.approx(expected, abs=1e-6)
    assert_no_secret(proc.logs)
    assert home.snapshot() == before


def test_discover_true_adds_accounts_and_a_hand_written_one_wins(
    sim: Simulator, home: Home, tmp_path: Path, processes: list[ExporterProcess],
) -> None:
    by_file = _write_antigravity_files(sim, home)
    both = next(p for p, n in by_file.items() if n == "ag-both" and ".cli-proxy-api" in p)
    (entry,) = _sim_entries(sim, tmp_path / "staging", ["ag-cliproxy"])
    config = write_config(tmp_path, {
        "discover": True,
        "defaults": _pointing_at(sim, entry),
        "accounts": [{"name": "work", "provider": "antigravity",
                      "credentials": {"file": both}}]})
    proc = _with_discovery(config, home, *FAST_RESCAN)
    processes.append(proc)
    served = targets(proc)
    # work, and ag-cliproxy, ag-manager, ag-agy, ag-opencode: ag-both's other file is
    # the account configured by hand.
    assert len(served) == 5 and "work" in served
    assert sorted(set(served) - {"work"}) == sorted(
        n for n in names_now(home).values() if n not in
        {a.name for a in Scanner(Env(home=home.root)).scan().accounts if a.also})
    text = proc.get("/metrics").text
    assert set(by_label(text, "llm_quota_up", "account").values()) == {1.0}
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    assert fractions[("work", "gemini-3-flash")] == pytest.approx(
        sim.model_fraction("ag-both", "gemini-3-flash"), abs=1e-6)
    # An account signed in while it runs is served within a re-scan.
    refresh, access, expires = _google_token(sim, "ag-late")
    home.manager(sim.account("ag-late").email, uid="uid-late", expires=expires,
                 access=access, refresh=refresh)
    wait_until(lambda: len(targets(proc)) == 6)
    (late,) = set(targets(proc)) - set(served)
    text = proc.get("/metrics").text
    assert by_label(text, "llm_quota_up", "account")[(late,)] == 1.0
    assert by_label(text, "llm_quota_remaining_fraction", "account", "model")[
        (late, "claude-sonnet-4-5")] == pytest.approx(
        sim.model_fraction("ag-late", "claude-sonnet-4-5"), abs=1e-6)
    # The landing page lists the discovered accounts beside the configured one.
    page = proc.get("/").text
    assert "configured by hand as work" in page


def test_an_expired_file_token_is_refreshed_in_memory_never_written(
    sim: Simulator, home: Home, tmp_path: Path, processes: list[ExporterProcess],
) -> None:
    refresh, _, _ = _google_token(sim, "ag-agy")
    agy = home.agy(sim.account("ag-agy").email, expires=PAST, access="ya29.expired",
                   refresh=refresh)
    before = agy.read_bytes(), agy.stat().st_mtime_ns
    (entry,) = _sim_entries(sim, tmp_path / "staging", ["ag-cliproxy"])
    config = write_config(tmp_path, {"discover": True, "defaults": _pointing_at(sim, entry)})
    proc = _with_discovery(config, home)
    processes.append(proc)
    (name,) = targets(proc)
    text = proc.get("/metrics").text
    assert by_label(text, "llm_quota_up", "account") == {(name,): 1.0}
    assert (agy.read_bytes(), agy.stat().st_mtime_ns) == before
    assert rfc3339(PAST) in agy.read_text()
    assert os.stat(agy).st_size == len(before[0])
