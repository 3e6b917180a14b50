"""Secrets sweep: plant real secrets in every credential source, then search every output.

The secrets are the simulator's own tokens and client secret, so every one of them
is really read and sent upstream (the first pass proves it: every account is up).
Claude Code and Codex files add refresh tokens that must never be sent, emails and
ChatGPT account ids. Then the error paths run (a 401 without refresh, invalid_grant,
a 500, an expired CLI token whose file name holds an email, bad configs whose
problems sit in secret-bearing fields) and every output the exporter has is
searched for each secret and for fragments of it: /metrics,
/api/v1/quota, /api/v1/refresh, the landing page, the reload answer, the `quota`
command (table and JSON), `check-config`, a refused start, and the debug logs in
both formats.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.providers.codex.simulated import account_id
from exporter.simulator import SimAccount, Simulator
from tests.procs import REPO, ExporterProcess, write_config

# One account per credential source; the comment says how it fails in the second pass.
ACCOUNTS = [
    SimAccount("sw-access", credential_style="access_token"),  # 401, cannot refresh
    SimAccount("sw-access-file", credential_style="access_token_file"),
    SimAccount("sw-refresh", credential_style="refresh_token"),  # client_secret inline
    SimAccount("sw-refresh-file", credential_style="refresh_token_file"),  # invalid_grant
    SimAccount("sw-cliproxy", credential_style="file"),  # 500 from both hosts
    SimAccount("sw-env", credential_style="refresh_token"),  # ${VAR}, refreshed again
    # GitHub Copilot: two logins in one apps.json; the first is revoked (401, no refresh).
    SimAccount("sw-copilot", provider="copilot", credential_style="shared_file"),
    SimAccount("sw-copilot-2", provider="copilot", credential_style="shared_file"),
    # Gemini CLI: its oauth_creds.json (email in the id_token) and a CLIProxyAPI file
    # carrying the OAuth client; both refreshed in memory in the second pass.
    SimAccount("sw-gemini-cli", provider="gemini-cli", credential_style="file"),
    SimAccount("sw-gemini-proxy", provider="gemini-cli", credential_style="cliproxyapi"),
    # Claude Code and Codex: their files carry refresh tokens, emails and account ids
    # the exporter reads but must never show or send.
    SimAccount("sw-claude", provider="claude"),
    SimAccount("sw-claude-proxy", provider="claude",  # expired: its path has the email
               credential_style="cliproxyapi"),
    SimAccount("sw-codex", provider="codex"),  # 401
    SimAccount("sw-codex-proxy", provider="codex", tier="pro", credential_style="cliproxyapi"),
    SimAccount("sw-codex-token", provider="codex", credential_style="access_token"),
    # Cursor: its state.vscdb (SQLite) holds a refresh token and an email never sent or
    # shown; a bare token beside it.
    SimAccount("sw-cursor", provider="cursor"),
    SimAccount("sw-cursor-token", provider="cursor", credential_style="access_token"),
]
SECRET_FILE_ACCOUNT = "sw-refresh-file"  # its oauth_client uses client_secret_file
ENV_ACCOUNT = "sw-env"
FAILING = {"sw-access": "auth", "sw-refresh-file": "auth", "sw-cliproxy": "upstream",
           "sw-copilot": "auth",
           "sw-claude-proxy": "auth", "sw-codex": "auth"}
DEBUG = ("--log.level", "debug")
FRAGMENT = 8  # characters of a secret's random tail that must not appear either


class Outputs:
    """Every text the exporter produced, by where it came from."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, where: str, text: str) -> str:
        assert where not in self.texts, where
        self.texts[where] = text
        return text


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True,
                          text=True, env=full_env, cwd=str(REPO), timeout=60, check=False)


def cli_output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def fragments(secret: str) -> set[str]:
    """The secret and every FRAGMENT-long piece of its random tail: partial leaks count.

    Every planted secret ends in at least 16 random characters (token_urlsafe).
    """
    tail = secret[-2 * FRAGMENT:]
    return {secret} | {tail[i:i + FRAGMENT] for i in range(FRAGMENT + 1)}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(ACCOUNTS) as s:
        # A distinctive client secret instead of the simulator's well-known default.
        s.client_secret = f"sweep-client-secret-{secrets.token_urlsafe(18)}"
        yield s


def plant(sim: Simulator, directory: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The config with every source in use, and the environment its ${VAR}s need."""
    config: dict[str, Any] = sim.exporter_config(directory)
    by_name = {a["name"]: a for a in config["accounts"]}
    secret_file = directory / "client-secret"
    secret_file.write_text(sim.client_secret + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    by_name[SECRET_FILE_ACCOUNT]["oauth_client"] = {
        "client_id": sim.client_id, "client_secret_file": str(secret_file)}
    env = {"SWEEP_REFRESH_TOKEN": by_name[ENV_ACCOUNT]["credentials"]["refresh_token"],
           "SWEEP_CLIENT_SECRET": sim.client_secret}
    by_name[ENV_ACCOUNT]["credentials"] = {"refresh_token": "${SWEEP_REFRESH_TOKEN}"}
    by_name[ENV_ACCOUNT]["oauth_client"] = {
        "client_id": sim.client_id, "client_secret": "${SWEEP_CLIENT_SECRET}"}
    return config, env


def bad_config_text(sim: Simulator, good: dict[str, Any]) -> str:
    """A config whose every problem sits in a field that carries a secret."""
    refresh, access, _ = sim.credentials("sw-refresh", expiring=False)
    account = dict(good["accounts"][2])
    account["credentials"] = {"refresh_token": refresh, "access_token": access}
    account["oauth_client"] = {"client_id": sim.client_id, "client_secret": sim.client_secret,
                               "client_secret_file": "/nonexistent/client-secret"}
    account["endpoints"] = [f"http//user:{sim.client_secret}@127.0.0.1/daily"]
    account["token_url"] = f"ftp://127.0.0.1/token?client_secret={sim.client_secret}"
    other = dict(good["accounts"][3])
    other["name"] = "sw-other"
    other["credentials"] = {"refresh_tokn": refresh}
    third = dict(good["accounts"][0])
    third["name"] = "sw-third"
    third["credentials"] = {"access_token": access + "${UNTERMINATED"}
    return yaml.safe_dump({"accounts": [account, other, third]}, sort_keys=False)


def yaml_error_text(sim: Simulator) -> str:
    refresh, _, _ = sim.credentials("sw-refresh", expiring=False)
    return (f"accounts:\n  - name: broken\n    provider: antigravity\n"
            f"    credentials:\n      refresh_token: \"{refresh}\n"
            f"    oauth_client: {{client_id: x, client_secret: {sim.client_secret}\n")


def serve_pass(exp: ExporterProcess, out: Outputs, label: str, refresh: bool,
               accounts: list[SimAccount] = ACCOUNTS) -> dict[str, Any]:
    """Every HTTP view once; returns the JSON API answer."""
    for path in ("/metrics", "/api/v1/quota", "/"):
        resp = exp.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        out.add(f"{label} GET {path}", resp.text)
    if refresh:
        for account in accounts:
            resp = exp.post(f"/api/v1/refresh?account={account.name}")
            assert resp.status_code == 200, (account.name, resp.text)
            out.add(f"{label} POST /api/v1/refresh?account={account.name}", resp.text)
    api: dict[str, Any] = json.loads(out.texts[f"{label} GET /api/v1/quota"])
    return api


def start(config: Path, env: dict[str, str], fmt: str) -> ExporterProcess:
    return ExporterProcess(["--config.file", str(config), "--web.listen-address", "127.0.0.1:0",
                 "--web.enable-lifecycle", *DEBUG, "--log.format", fmt], env=env)


def test_no_secret_reaches_any_output(sim: Simulator, tmp_path: Path) -> None:
    config, env = plant(sim, tmp_path)
    path = write_config(tmp_path, config)
    out = Outputs()
    exporters = {fmt: start(path, env, fmt) for fmt in ("logfmt", "json")}
    try:
        # Pass 1: every source works, so every secret has really been read and used.
        for fmt, exp in exporters.items():
            api = serve_pass(exp, out, f"healthy {fmt}", refresh=False)
            assert {a["account"]: a["up"] for a in api["accounts"]} == {
                a.name: True for a in ACCOUNTS}, api
        for output in ("table", "json"):
            result = run_cli("quota", "--config.file", str(path), "--output", output, *DEBUG,
                             env=env)
            assert result.returncode == 0, cli_output(result)
            out.add(f"healthy quota --output {output}", cli_output(result))
        result = run_cli("check-config", "--config.file", str(path), env=env)
        assert result.returncode == 0, cli_output(result)
        out.add("check-config (valid)", cli_output(result))

        # Pass 2: the error paths.
        sim.expire_access_tokens("sw-access")
        sim.revoke_refresh_token("sw-refresh-file")
        sim.expire_access_tokens("sw-refresh-file")
        sim.expire_access_tokens(ENV_ACCOUNT)  # a second refresh with the ${VAR} secrets
        for host in ("daily", "prod"):
            sim.set_fault("sw-cliproxy", "500", host=host)
        for name in ("sw-copilot", "sw-gemini-cli", "sw-gemini-proxy"):
            sim.expire_access_tokens(name)
        sim.expire_credentials("sw-claude-proxy")
        sim.expire_access_tokens("sw-codex")
        for fmt, exp in exporters.items():
            api = serve_pass(exp, out, f"failing {fmt}", refresh=True)
            reasons = {a["account"]: (a["error"] or {}).get("reason") for a in api["accounts"]}
            assert reasons == {a.name: FAILING.get(a.name) for a in ACCOUNTS}, api
        for output, fmt in (("table", "logfmt"), ("json", "json")):
            result = run_cli("quota", "--config.file", str(path), "--output", output, *DEBUG,
                             "--log.format", fmt, env=env)
            assert result.returncode == 1, cli_output(result)
            out.add(f"failing quota --output {output}", cli_output(result))

        # Bad configs whose problems are in secret-bearing fields.
        bad = tmp_path / "bad.yml"
        for name, text, says in (("problems", bad_config_text(sim, config), "accounts[0]"),
                                 ("yaml", yaml_error_text(sim), "YAML syntax error")):
            bad.write_text(text, encoding="utf-8")
            result = run_cli("check-config", "--config.file", str(bad), env=env)
            assert result.returncode == 2 and says in result.stderr, cli_output(result)
            out.add(f"check-config ({name})", cli_output(result))
            result = run_cli("--config.file", str(bad), "--web.listen-address", "127.0.0.1:0",
                             env=env)
            assert result.returncode == 2, cli_output(result)
            out.add(f"refused start ({name})", cli_output(result))
        problems = out.texts["check-config (problems)"]
        for key_path in ("accounts[0].credentials", "accounts[0].oauth_client",
                         "accounts[0].endpoints[0]", "accounts[0].token_url",
                         "accounts[1].credentials.refresh_tokn", "accounts[2].credentials"):
            assert key_path in problems, (key_path, problems)
        path.write_text(bad_config_text(sim, config), encoding="utf-8")
        resp = exporters["logfmt"].post("/-/reload")
        assert resp.status_code == 400, resp.text
        out.add("POST /-/reload (refused)", resp.text)
        exporters["json"].proc.send_signal(signal.SIGHUP)
        exporters["json"].wait_for_log("reload refused")
    finally:
        for exp in exporters.values():
            exp.stop()
    for fmt, exp in exporters.items():
        logs = out.add(f"log --log.format {fmt}", exp.logs)
        for expected in ("invalid_grant", "answered 500", "cannot be refreshed",
                         "reload refused", "account fetched", "<email>.json",
                         "run `codex` once"):
            assert expected in logs, f"{expected!r} missing from the {fmt} log"
    levels = {json.loads(line)["level"] for line in exporters["json"].logs.splitlines()}
    assert {"debug", "info", "warn", "error"} <= levels, levels
    assert "level=debug" in exporters["logfmt"].logs

    planted = {*sim.issued_tokens(), sim.client_secret}
    assert len(planted) > 2 * len(ACCOUNTS)
    # Identities: GitHub logins (apps.json, the reply's `login`), the emails of
    # credential files and ChatGPT account ids, whole (their pieces are the account
    # names, which may show).
    cli = [a for a in ACCOUNTS if a.provider in ("claude", "codex")]
    identities = {f"{a.name}-gh" for a in ACCOUNTS if a.provider == "copilot"}
    identities |= {a.email for a in ACCOUNTS}
    identities |= {account_id(a) for a in cli if a.provider == "codex"}
    for where, text in out.texts.items():
        for prefix in ("ya29.", "gho_", "sk-ant-", "eyJhbGci"):  # Google, GitHub, Claude, JWT
            assert prefix not in text, f"an access token prefix {prefix} appears in {where}"
        for identity in identities:
            assert identity not in text, f"{identity!r} appears in {where}"
        for secret in planted:
            for piece in fragments(secret):
                assert piece not in text, (
                    f"secret fragment {piece!r} (of a {len(secret)}-char secret) in {where}")


# -- identities: emails and project ids -----------------------------------------------------

IDENTITY_ACCOUNTS = [
    # CLIProxyAPI's file is named antigravity-<email>.json: the path carries the email.
    SimAccount("id-file", credential_style="file", email="alice.smith@corp.example"),
    SimAccount("id-403", email="bob.jones@corp.example"),  # the upstream error quotes both
    SimAccount("id-project", email="carol@corp.example"),  # its configured project is wrong
]


def test_no_email_or_project_id_reaches_any_output(tmp_path: Path) -> None:
    with Simulator(IDENTITY_ACCOUNTS) as sim:
        config: dict[str, Any] = sim.exporter_config(tmp_path)
        by_name = {a["name"]: a for a in config["accounts"]}
        by_name["id-project"]["project"] = "wrong-project-4821"
        cred = Path(by_name["id-file"]["credentials"]["file"])
        assert "alice.smith@corp.example" in cred.name
        path = write_config(tmp_path, config)
        out = Outputs()
        exp = start(path, {}, "logfmt")
        try:
            # The file goes away after start (a tool deleting it mid-rotation); the
            # upstream answers a 403 that names the project and the user.
            cred.unlink()
            sim.set_fault("id-403", "403_identity", method="fetchAvailableModels")
            sim.set_fault("id-403", "403_identity", method="retrieveUserQuotaSummary")
            api = serve_pass(exp, out, "identity", refresh=True, accounts=IDENTITY_ACCOUNTS)
            errors = {a["account"]: a["error"]["message"] for a in api["accounts"]}
            assert "<email>.json" in errors["id-file"], errors
            assert "project <project> for user <email>" in errors["id-403"], errors
            assert "project <project>" in errors["id-project"], errors
            for output in ("table", "json"):
                result = run_cli("quota", "--config.file", str(path), "--output", output,
                                 *DEBUG, env={})
                out.add(f"quota --output {output}", cli_output(result))
            result = run_cli("check-config", "--config.file", str(path), env={})
            assert result.returncode == 2, cli_output(result)  # the file is gone
            out.add("check-config", cli_output(result))
        finally:
            exp.stop()
        out.add("log", exp.logs)
        identities = {a.email for a in IDENTITY_ACCOUNTS} | {
            a.project for a in IDENTITY_ACCOUNTS if a.project} | {"wrong-project-4821"}
        local_parts = {a.email.split("@")[0] for a in IDENTITY_ACCOUNTS}
        for where, text in out.texts.items():
            for value in identities | local_parts:
                assert value not in text, f"{value!r} appears in {where}"
