"""A home folder where every supported tool has signed in, for the discovery tests.

Each writer puts one file where its tool keeps it, in that tool's format. Tokens
contain SECRET and emails are @example.com / @example.org addresses whose local
parts (alice, bob, ...) appear nowhere else, so a test can search any output for
them. `snapshot()` records every file's bytes and mtime to prove nothing was
written.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.unit.test_credfiles import jwt

FUTURE = time.time() + 7 * 86400
PAST = time.time() - 86400
# Every local part and login the home holds: none may appear in any output.
PEOPLE = ("alice", "bob", "carol", "dave", "eriko", "frank", "grazia", "heidi", "ivan",
          "judy", "kenji", "leopold", "mallory", "octo-one", "octo-two")


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def write_json(path: Path, doc: Any, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    path.chmod(mode)
    return path


@dataclass
class Home:
    root: Path
    files: list[Path] = field(default_factory=list)

    def put(self, rel: str, doc: Any) -> Path:
        path = write_json(self.root / rel, doc)
        self.files.append(path)
        return path

    # -- one writer per format ------------------------------------------------------

    def cliproxy_antigravity(self, email: str, *, expires: float = FUTURE,
                             name: str | None = None, folder: str = ".cli-proxy-api",
                             access: str | None = None, refresh: str | None = None,
                             disabled: bool = False) -> Path:
        issued = expires - 3600
        doc: dict[str, Any] = {
            "type": "antigravity", "access_token": access or f"ya29.SECRET-{email}",
            "refresh_token": refresh or f"1//SECRET-{email}", "expires_in": 3600,
            "timestamp": int(issued * 1000), "expired": rfc3339(expires), "email": email,
            "project_id": f"proj-{email.split('@')[0]}"}
        if disabled:
            doc["disabled"] = True
        return self.put(f"{folder}/{name or f'antigravity-{email}.json'}", doc)

    def cliproxy_gemini(self, email: str) -> Path:
        return self.put(f".cli-proxy-api/{email}-proj-g.json", {
            "type": "gemini", "email": email, "project_id": "proj-g", "auto": True,
            "token": {"access_token": f"ya29.SECRET-{email}", "token_type": "Bearer",
                      "refresh_token": f"1//SECRET-{email}", "expiry": rfc3339(FUTURE),
                      "client_id": "gemini-client.apps.example", "client_secret": "SECRET-cs"}})

    def cliproxy_claude(self, email: str) -> Path:
        return self.put(f".cli-proxy-api/claude-{email}.json", {
            "type": "claude", "access_token": "sk-ant-oat01-SECRET", "refresh_token": "SECRET-r",
            "email": email, "expired": rfc3339(FUTURE), "last_refresh": rfc3339(PAST)})

    def cliproxy_codex(self, email: str) -> Path:
        return self.put(f".cli-proxy-api/codex-{email}-plus.json", {
            "type": "codex", "access_token": jwt({"exp": FUTURE}), "refresh_token": "SECRET-r",
            "id_token": jwt({"email": email}), "account_id": "acct-SECRET-1", "email": email,
            "expired": rfc3339(FUTURE)})

    def cliproxy_other(self, email: str) -> Path:
        return self.put(f".cli-proxy-api/qwen-{email}.json", {
            "type": "qwen", "access_token": "SECRET-q", "email": email})

    def manager(self, email: str, *, expires: float = FUTURE, uid: str = "",
                disabled: bool = False, access: str | None = None,
                refresh: str | None = None, data_dir: str = ".antigravity_tools") -> Path:
        uid = uid or f"0000-{len(self.files):04d}"
        return self.put(f"{data_dir}/accounts/{uid}.json", {
            "id": uid, "email": email, "name": None, "disabled": disabled,
            "created_at": 1, "last_used": 2,
            "token": {"access_token": access or f"ya29.SECRET-m-{email}",
                      "refresh_token": refresh or f"1//SECRET-m-{email}",
                      "expires_in": 3599, "expiry_timestamp": int(expires),
                      "token_type": "Bearer", "email": email, "project_id": "proj-m"},
            "quota": {"models": [], "last_updated": 1}})

    def agy(self, email: str, *, expires: float = FUTURE, access: str | None = None,
            refresh: str | None = None) -> Path:
        return self.put(".gemini/antigravity-cli/antigravity-oauth-token", {
            "token": {"access_token": access or "ya29.SECRET-agy", "token_type": "Bearer",
                      "refresh_token": refresh or "1//SECRET-agy", "expiry": rfc3339(expires)},
            "auth_method": "consumer", "id_token": jwt({"email": email})})

    def opencode(self, *accounts: dict[str, Any], base: str = ".config") -> Path:
        return self.put(f"{base}/opencode/antigravity-accounts.json", {
            "version": 3, "accounts": list(accounts), "activeIndex": 0})

    def claude_code(self, *, expires: float = FUTURE, folder: str = ".claude") -> Path:
        return self.put(f"{folder}/.credentials.json", {"claudeAiOauth": {
            "accessToken": "sk-ant-oat01-SECRET-cc", "refreshToken": "sk-ant-ort01-SECRET",
            "expiresAt": int(expires * 1000), "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max", "rateLimitTier": "default_claude_max_20x"}})

    def codex_cli(self, email: str, *, folder: str = ".codex") -> Path:
        return self.put(f"{folder}/auth.json", {"OPENAI_API_KEY": None, "tokens": {
            "id_token": jwt({"email": email, "https://api.openai.com/auth": {
                "chatgpt_account_id": "acct-SECRET-2", "chatgpt_plan_type": "pro"}}),
            "access_token": jwt({"exp": FUTURE}), "refresh_token": "SECRET-r",
            "account_id": "acct-SECRET-2"}, "last_refresh": rfc3339(PAST)})

    def gemini_cli(self, email: str, *, folder: str = ".gemini") -> Path:
        return self.put(f"{folder}/oauth_creds.json", {
            "access_token": "ya29.SECRET-gcli", "refresh_token": "1//SECRET-gcli",
            "scope": "openid", "token_type": "Bearer", "id_token": jwt({"email": email}),
            "expiry_date": int(FUTURE * 1000)})

    def copilot(self, name: str, users: dict[str, str], *, base: str = ".config") -> Path:
        """apps.json keys each sign-in `github.com:<client id>`; the older hosts.json
        has one per host, keyed `github.com`."""
        if name == "hosts.json":
            ((login, token),) = users.items()
            return self.put(f"{base}/github-copilot/{name}",
                            {"github.com": {"user": login, "oauth_token": token}})
        return self.put(f"{base}/github-copilot/{name}", {
            f"github.com:Iv1.{i}": {"user": login, "oauth_token": token, "githubAppId": "Iv1"}
            for i, (login, token) in enumerate(users.items())})

    # -- proving nothing was written ----------------------------------------------------

    def snapshot(self) -> dict[Path, tuple[bytes, int, int]]:
        out = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink() and os.access(path, os.R_OK):
                st = path.stat()
                out[path] = (path.read_bytes(), st.st_mtime_ns, st.st_mode)
        return out


def every_tool(home: Home) -> Home:
    """A home where every supported tool signed in, with the same Google account in
    CLIProxyAPI and Antigravity-Manager, and the same GitHub user in both of
    Copilot's files."""
    home.cliproxy_antigravity("alice@example.com")
    home.manager("alice@example.com")  # the same account: one, not two
    home.cliproxy_antigravity("carol@example.org", name="antigravity-carol_example_org.json")
    home.cliproxy_gemini("dave@example.com")
    home.cliproxy_claude("eriko@example.com")
    home.cliproxy_codex("frank@example.com")
    home.cliproxy_other("bob@example.com")  # a provider this exporter has not
    home.cliproxy_antigravity("grazia@example.com", folder=".config/llm-mux/auth")
    home.manager("heidi@example.com", disabled=True)
    home.agy("ivan@example.com")
    home.opencode({"email": "judy@example.com", "refreshToken": "1//SECRET-j", "projectId": "p"},
                  {"email": "kenji@example.com", "refreshToken": "1//SECRET-k"})
    home.claude_code()
    home.codex_cli("leopold@example.com")
    home.gemini_cli("mallory@example.com")
    home.copilot("apps.json", {"octo-one": "gho_SECRET1", "octo-two": "gho_SECRET2"})
    home.copilot("hosts.json", {"octo-one": "gho_SECRET1"})
    return home
