"""`--web.config.file`: TLS, basic auth and response headers, in the exporter-toolkit format.

    tls_server_config:
      cert_file: server.crt            # relative paths resolve against this file's directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: ca.crt
      min_version: TLS13
    basic_auth_users:
      prometheus: $2y$10$...          # bcrypt, e.g. `htpasswd -nBC 10 "" | tr -d ':\\n'`
    http_server_config:
      headers: {X-Content-Type-Options: nosniff}

Where Python's ssl module cannot do what Go's crypto/tls does, the mapping fails
closed: RequireAnyClientCert verifies against client_ca_file (Python cannot take a
client certificate without verifying it), RequestClientCert asks for nothing (an
unverified certificate is never read), TLS10/TLS11 as min_version mean TLS12.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import ssl
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.secret import Secret

log = logging.getLogger(__name__)

REALM = "llm-quota-exporter"
TOP_KEYS = ("tls_server_config", "basic_auth_users", "http_server_config", "rate_limit")
TLS_KEYS = (
    "cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type", "client_ca_file",
    "client_allowed_sans", "min_version", "max_version", "cipher_suites",
    "prefer_server_cipher_suites", "curve_preferences",
)
HTTP_KEYS = ("http2", "headers")
# Same allow-list as exporter-toolkit; None means any value.
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None, "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"), "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
CLIENT_AUTH_TYPES = (
    "NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
_VERIFY_MODES = {"RequireAnyClientCert": ssl.CERT_REQUIRED, "RequireClientCert": ssl.CERT_REQUIRED,
                 "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
                 "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
_REQUIRE_CERT = ("RequireAnyClientCert", "RequireClientCert", "RequireAndVerifyClientCert")
# TLS 1.0/1.1 are deprecated (RFC 8996) and refused by OpenSSL's default security level.
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1_2, "TLS11": ssl.TLSVersion.TLSv1_2,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# Go's crypto/tls names -> OpenSSL names. TLS 1.3 suites are not configurable in either.
CIPHERS = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
TLS13_CIPHERS = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                 "TLS_CHACHA20_POLY1305_SHA256")
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")


class WebConfigError(Exception):
    """One or more web config problems, each `key.path: what is wrong`."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problems))

    def lines(self) -> list[str]:
        return list(self.problems)


@dataclass(frozen=True)
class TLSServerConfig:
    cert_file: Path | None = None
    key_file: Path | None = None
    cert: str | None = None  # inline PEM instead of cert_file
    key: Secret | None = None  # inline PEM instead of key_file
    client_ca_file: Path | None = None
    client_ca: str | None = None
    client_auth_type: str = "NoClientCert"
    client_allowed_sans: tuple[str, ...] = ()
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    cipher_suites: tuple[str, ...] = ()  # OpenSSL names, TLS <= 1.2
    prefer_server_cipher_suites: bool = True


@dataclass(frozen=True)
class WebConfig:
    tls: TLSServerConfig | None = None
    basic_auth_users: dict[str, Secret] = field(default_factory=dict)  # user -> bcrypt hash
    headers: tuple[tuple[str, str], ...] = ()
    path: Path | None = None


def load_web_config(path: str | os.PathLike[str]) -> WebConfig:
    """Read and validate a web config file, loading any TLS material once to prove it works."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WebConfigError(f"cannot read {file}: {reason_text(exc)}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # str(exc) quotes the offending line, which may hold a hash or an inline key.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise WebConfigError(f"{file}: invalid YAML{where}: {problem}") from None
    cfg = _Parser(file.absolute().parent).parse(data, file)
    ssl_context(cfg)
    return cfg


class _Parser:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def section(self, data: Any, path: str, keys: Iterable[str]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.fail(path, f"must be a mapping, not {type(data).__name__}")
            return {}
        for key in data:
            if key not in keys:
                hint = difflib.get_close_matches(str(key), keys, n=1)
                where = f"{path}.{key}" if path else str(key)
                self.fail(where, "unknown key" + (f" (did you mean {hint[0]}?)" if hint else ""))
        return data

    def string(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", f"must be a string, not {type(value).__name__}")
            return None
        return value

    def strings(self, data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{path}.{key}", "must be a list of strings")
            return ()
        return tuple(value)

    def choice(self, data: Mapping[str, Any], key: str, path: str, allowed: Iterable[str]) -> str:
        value = self.string(data, key, path)
        if value is not None and value not in allowed:
            self.fail(f"{path}.{key}", f"{value!r} is not one of {', '.join(allowed)}")
        return value or ""

    def file(self, data: Mapping[str, Any], key: str, path: str) -> Path | None:
        value = self.string(data, key, path)
        return None if value is None else self.base / Path(value).expanduser()

    def parse(self, data: Any, file: Path) -> WebConfig:
        if data is not None and not isinstance(data, dict):
            raise WebConfigError(f"{file}: must be a YAML mapping with keys {', '.join(TOP_KEYS)}")
        top = self.section(data, "", TOP_KEYS)
        if top.get("rate_limit"):
            self.fail("rate_limit", "not supported here; rate-limit in a reverse proxy")
        cfg = WebConfig(
            tls=self.tls(top.get("tls_server_config")),
            basic_auth_users=self.users(top.get("basic_auth_users")),
            headers=self.http(top.get("http_server_config")),
            path=file,
        )
        if self.problems:
            raise WebConfigError(*self.problems)
        return cfg

    def tls(self, data: Any) -> TLSServerConfig | None:
        p = "tls_server_config"
        tls = self.section(data, p, TLS_KEYS)
        if not tls:
            return None
        for inline in ("cert", "key", "client_ca"):
            if tls.get(inline) and tls.get(f"{inline}_file"):
                self.fail(f"{p}.{inline}", f"set either {inline} or {inline}_file, not both")
            elif inline != "client_ca" and not tls.get(inline) and not tls.get(f"{inline}_file"):
                self.fail(f"{p}.{inline}_file", f"required for TLS (or inline {inline})")
        auth = self.choice(tls, "client_auth_type", p, (*CLIENT_AUTH_TYPES, "RequireClientCert"))
        has_ca = bool(tls.get("client_ca_file") or tls.get("client_ca"))
        if auth in _VERIFY_MODES and not has_ca:
            why = (": Python's TLS cannot accept a client certificate without verifying it"
                   if auth in ("RequireAnyClientCert", "RequireClientCert") else "")
            self.fail(f"{p}.client_ca_file", f"required when client_auth_type is {auth}{why}")
        if has_ca and auth in ("", "NoClientCert"):
            self.fail(f"{p}.client_ca_file", "set, but client_auth_type does not ask for a "
                      "client certificate (use RequireAndVerifyClientCert)")
        sans = self.strings(tls, "client_allowed_sans", p)
        if sans and auth not in _REQUIRE_CERT:
            self.fail(f"{p}.client_allowed_sans", "needs client_auth_type "
                      "RequireAndVerifyClientCert (or RequireAnyClientCert)")
        if tls.get("curve_preferences"):  # Python's ssl can only pin one curve
            self.fail(f"{p}.curve_preferences", "not supported here; remove it to use "
                      "OpenSSL's default curves (X25519, P-256, P-384, P-521)")
        versions = self.versions(tls, p)
        prefer = tls.get("prefer_server_cipher_suites", True)
        if not isinstance(prefer, bool):
            self.fail(f"{p}.prefer_server_cipher_suites", "must be true or false")
        key = self.string(tls, "key", p)
        return TLSServerConfig(
            cert_file=self.file(tls, "cert_file", p), key_file=self.file(tls, "key_file", p),
            cert=self.string(tls, "cert", p), key=Secret(key) if key else None,
            client_ca_file=self.file(tls, "client_ca_file", p),
            client_ca=self.string(tls, "client_ca", p),
            client_auth_type=auth or "NoClientCert", client_allowed_sans=sans,
            min_version=versions[0], max_version=versions[1],
            cipher_suites=self.ciphers(tls, p), prefer_server_cipher_suites=prefer is not False,
        )

    def versions(self, tls: Mapping[str, Any], p: str) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
        low_name = self.choice(tls, "min_version", p, TLS_VERSIONS) or "TLS12"
        high_name = self.choice(tls, "max_version", p, TLS_VERSIONS) or "TLS13"
        if high_name in ("TLS10", "TLS11"):
            self.fail(f"{p}.max_version", f"{high_name} is below TLS12, the lowest version served")
        low = TLS_VERSIONS.get(low_name, ssl.TLSVersion.TLSv1_2)
        high = TLS_VERSIONS.get(high_name, ssl.TLSVersion.TLSv1_3)
        if low > high:
            self.fail(f"{p}.min_version", f"{low_name} is above max_version {high_name}")
        return low, high

    def ciphers(self, tls: Mapping[str, Any], p: str) -> tuple[str, ...]:
        names = self.strings(tls, "cipher_suites", p)
        unknown = [n for n in names if n not in CIPHERS and n not in TLS13_CIPHERS]
        if unknown:
            self.fail(f"{p}.cipher_suites", f"unknown cipher suite(s) {', '.join(unknown)}; "
                      f"known: {', '.join(CIPHERS)}")
        chosen = tuple(CIPHERS[n] for n in names if n in CIPHERS)
        if names and not unknown and not chosen:
            self.fail(f"{p}.cipher_suites", "lists only TLS 1.3 suites, which cannot be "
                      "configured; list TLS 1.2 suites or set min_version: TLS13")
        return chosen

    def users(self, data: Any) -> dict[str, Secret]:
        p = "basic_auth_users"
        if data is not None and not isinstance(data, dict):
            self.fail(p, "must be a mapping of user name to bcrypt hash")
            return {}
        users: dict[str, Secret] = {}
        for user, hashed in (data or {}).items():
            where = f"{p}.{user}"
            if not isinstance(user, str) or not user or ":" in user:
                self.fail(where, "a user name must be a non-empty string without ':'")
            elif not isinstance(hashed, str) or not _bcrypt_cost_ok(hashed):
                self.fail(where, "not a bcrypt hash (want $2y$<cost>$..., e.g. from "
                          "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`)")
            else:
                users[user] = Secret(hashed)
        return users

    def http(self, data: Any) -> tuple[tuple[str, str], ...]:
        p = "http_server_config"
        http = self.section(data, p, HTTP_KEYS)
        if not isinstance(http.get("http2", True), bool):  # HTTP/1.1 only here; accepted
            self.fail(f"{p}.http2", "must be true or false")
        headers = self.section(http.get("headers"), f"{p}.headers", tuple(HEADERS))
        out: list[tuple[str, str]] = []
        for name, value in headers.items():
            allowed = HEADERS.get(name, ())
            if value in (None, "") or name not in HEADERS:
                continue
            if not isinstance(value, str) or "\r" in value or "\n" in value:
                self.fail(f"{p}.headers.{name}", "must be a one-line string")
            elif allowed is not None and value not in allowed:
                self.fail(f"{p}.headers.{name}", f"{value!r} is not one of {', '.join(allowed)}")
            else:
                out.append((name, value))
        return tuple(out)


def _bcrypt_cost_ok(hashed: str) -> bool:
    match = _BCRYPT.fullmatch(hashed)
    return match is not None and 4 <= int(match.group(1)) <= 31


def reason_text(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return getattr(exc, "reason", None) or str(exc) or type(exc).__name__


def ssl_context(cfg: WebConfig) -> ssl.SSLContext | None:
    """A server-side SSLContext for `cfg`, or None without TLS. Raises WebConfigError."""
    tls, p = cfg.tls, "tls_server_config"
    if tls is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version, ctx.maximum_version = tls.min_version, tls.max_version
    ctx.set_alpn_protocols(["http/1.1"])
    if not tls.prefer_server_cipher_suites:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.cipher_suites:
        try:
            ctx.set_ciphers(":".join(tls.cipher_suites))
        except ssl.SSLError as exc:
            raise WebConfigError(f"{p}.cipher_suites: OpenSSL refuses them: {reason_text(exc)}") \
                from None
    _load_chain(ctx, tls)
    if tls.client_ca_file or tls.client_ca:
        where = f"{p}.client_ca_file" if tls.client_ca_file else f"{p}.client_ca"
        text = tls.client_ca or _read(tls.client_ca_file, where).decode("ascii", "replace")
        try:
            ctx.load_verify_locations(cadata=text)
        except (ssl.SSLError, ValueError) as exc:
            raise WebConfigError(f"{where}: no CA certificate loads: {reason_text(exc)}") from None
    ctx.verify_mode = _VERIFY_MODES.get(tls.client_auth_type, ssl.CERT_NONE)
    return ctx


def _read(path: Path | None, where: str) -> bytes:
    assert path is not None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise WebConfigError(f"{where}: cannot read {path}: {reason_text(exc)}") from None


def _load_chain(ctx: ssl.SSLContext, tls: TLSServerConfig) -> None:
    p = "tls_server_config"
    cert_at = f"{p}.cert_file" if tls.cert_file else f"{p}.cert"
    key_at = f"{p}.key_file" if tls.key_file else f"{p}.key"
    cert = _read(tls.cert_file, cert_at) if tls.cert_file else (tls.cert or "").encode()
    key = _read(tls.key_file, key_at) if tls.key_file else (
        tls.key.reveal().encode() if tls.key else b"")
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        raise WebConfigError(f"{cert_at}: no PEM certificate found")
    if b"PRIVATE KEY-----" not in key:
        raise WebConfigError(f"{key_at}: no PEM private key found")

    def no_passphrase() -> str:
        raise WebConfigError(f"{key_at}: the private key is encrypted; give an unencrypted key")

    # load_cert_chain only reads files: inline PEM goes to a private (0700) temp directory.
    with tempfile.TemporaryDirectory(prefix="webconfig-") as tmp:
        cert_path, key_path = tls.cert_file, tls.key_file
        if cert_path is None:
            cert_path = Path(tmp) / "cert.pem"
            cert_path.write_bytes(cert)
        if key_path is None:
            key_path = Path(tmp) / "key.pem"
            key_path.write_bytes(key)
        try:
            ctx.load_cert_chain(cert_path, key_path, password=no_passphrase)
        except ssl.SSLError as exc:
            if "MISMATCH" in str(exc).upper():
                raise WebConfigError(f"{key_at}: does not match the certificate in {cert_at}") \
                    from None
            raise WebConfigError(f"{cert_at}: certificate and key do not load: "
                                 f"{reason_text(exc)}") from None
