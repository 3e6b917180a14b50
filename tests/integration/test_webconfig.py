"""--web.config.file: real TLS handshakes and basic auth on loopback, and every config error."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests

from exporter.web.basic_auth import BasicAuth, wrap_wsgi
from exporter.web.config import WebConfig, WebConfigError, load_web_config, ssl_context
from exporter.web.httpd import make_http_server
from tests.pki import PKI

PASSWORD = "s3cret-Pa55"
# Low cost keeps the suite fast; the code path is the same as cost 10.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
HTPASSWD_HASH = HASH.replace("$2b$", "$2y$", 1)  # what `htpasswd -B` writes


WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path, pki: PKI) -> WriteConfig:
    """Write a web config; `@D@` stands for the PKI directory."""

    def write(text: str) -> Path:
        path = tmp_path / "web.yml"
        path.write_text(text.replace("@D@", str(pki.dir)), encoding="utf-8")
        return path

    return write


TLS = """
tls_server_config:
  cert_file: @D@/server.crt
  key_file: @D@/server.key
"""
USERS = f"""
basic_auth_users:
  alice: {HASH}
"""
MTLS = TLS + """
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: @D@/ca.crt
"""


# --- the exporter's real HTTP server (exporter/web/httpd.py) around a tiny app ------------


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] not in ("/", "/metrics", "/-/healthy"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"ok {environ['wsgi.url_scheme']}".encode()]


@contextmanager
def serving(cfg: WebConfig, handshake_timeout: float = 5.0) -> Iterator[str]:
    """`handshake_timeout`: the server's read timeout, which bounds the handshake too."""
    with make_http_server(app, "127.0.0.1:0", cfg, read_timeout=handshake_timeout) as server:
        scheme = "https" if server.tls else "http"
        yield f"{scheme}://127.0.0.1:{server.address[1]}"


@pytest.fixture
def tls_auth_url(write_config: WriteConfig) -> Iterator[str]:
    with serving(load_web_config(write_config(TLS + USERS))) as url:
        yield url


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# --- TLS and basic auth on the wire ------------------------------------------------------


def test_right_password_over_https_gets_200(tls_auth_url: str, pki: PKI) -> None:
    resp = requests.get(f"{tls_auth_url}/metrics", auth=("alice", PASSWORD), verify=pki["ca.crt"])
    assert resp.status_code == 200
    assert resp.text == "ok https"


@pytest.mark.parametrize("auth", [("alice", "wrong"), ("bob", PASSWORD), None])
def test_wrong_or_missing_credentials_get_401_with_challenge(
    tls_auth_url: str, pki: PKI, auth: tuple[str, str] | None
) -> None:
    resp = requests.get(f"{tls_auth_url}/metrics", auth=auth, verify=pki["ca.crt"])
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="llm-quota-exporter", charset="UTF-8"'
    assert resp.text == "Unauthorized.\n"


def test_every_path_but_healthy_needs_credentials(tls_auth_url: str, pki: PKI) -> None:
    assert requests.get(f"{tls_auth_url}/-/healthy", verify=pki["ca.crt"]).status_code == 200
    for path in ("/", "/metrics", "/-/healthy/", "/-/healthy.txt", "/nope"):
        assert requests.get(f"{tls_auth_url}{path}", verify=pki["ca.crt"]).status_code == 401


def test_plain_http_to_the_tls_port_fails_and_https_still_works(
    tls_auth_url: str, pki: PKI
) -> None:
    plain = tls_auth_url.replace("https://", "http://")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{plain}/-/healthy", timeout=5)
    assert requests.get(f"{tls_auth_url}/-/healthy", verify=pki["ca.crt"]).status_code == 200


def test_server_certificate_is_refused_without_the_ca_bundle(tls_auth_url: str) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_auth_url}/-/healthy", timeout=5)


def test_mtls_requires_a_client_certificate_from_the_client_ca(
    write_config: WriteConfig, pki: PKI
) -> None:
    with serving(load_web_config(write_config(MTLS))) as url:
        ok = requests.get(url, verify=pki["ca.crt"], cert=(pki["client.crt"], pki["client.key"]))
        assert (ok.status_code, ok.text) == (200, "ok https")
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, verify=pki["ca.crt"], timeout=5)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, verify=pki["ca.crt"], cert=(pki["rogue.crt"], pki["rogue.key"]),
                         timeout=5)


@pytest.mark.parametrize(("allowed", "accepted"), [("client.example", True),
                                                   ("someone-else.example", False)])
def test_client_allowed_sans_filters_verified_clients(
    write_config: WriteConfig, pki: PKI, allowed: str, accepted: bool
) -> None:
    cfg = load_web_config(write_config(MTLS + f"  client_allowed_sans: [{allowed}]\n"))
    with serving(cfg) as url:
        def get() -> requests.Response:
            return requests.get(url, verify=pki["ca.crt"],
                                cert=(pki["client.crt"], pki["client.key"]), timeout=5)

        if accepted:
            assert get().status_code == 200
        else:
            with pytest.raises(requests.exceptions.ConnectionError):
                get()


def _handshake(port: int, pki: PKI, version: ssl.TLSVersion) -> str | None:
    ctx = ssl.create_default_context(cafile=pki["ca.crt"])
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        return tls.version()


def test_min_version_tls13_refuses_a_tls12_only_client(
    write_config: WriteConfig, pki: PKI
) -> None:
    with serving(load_web_config(write_config(TLS + "  min_version: TLS13\n"))) as url:
        with pytest.raises(ssl.SSLError):
            _handshake(port_of(url), pki, ssl.TLSVersion.TLSv1_2)
        assert _handshake(port_of(url), pki, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_cipher_suites_use_go_names(write_config: WriteConfig, pki: PKI) -> None:
    cfg = load_web_config(write_config(TLS + """
  max_version: TLS12
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
"""))
    with serving(cfg) as url:
        ctx = ssl.create_default_context(cafile=pki["ca.crt"])
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            cipher = tls.cipher()
    assert cipher is not None
    assert cipher[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"


def test_a_silent_client_does_not_block_others(write_config: WriteConfig, pki: PKI) -> None:
    with serving(load_web_config(write_config(TLS)), handshake_timeout=30) as url, \
            socket.create_connection(("127.0.0.1", port_of(url))):
        started = time.monotonic()
        resp = requests.get(url, verify=pki["ca.crt"], timeout=5)
        assert resp.status_code == 200
        assert time.monotonic() - started < 2


def test_a_silent_client_is_dropped_after_the_handshake_timeout(
    write_config: WriteConfig,
) -> None:
    with serving(load_web_config(write_config(TLS)), handshake_timeout=0.3) as url, \
            socket.create_connection(("127.0.0.1", port_of(url)), timeout=5) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # the server closed it
        assert time.monotonic() - started < 3


def test_configured_headers_go_on_every_response(write_config: WriteConfig, pki: PKI) -> None:
    cfg = load_web_config(write_config(TLS + USERS + """
http_server_config:
  http2: false
  headers:
    X-Content-Type-Options: nosniff
    X-Frame-Options: deny
    Content-Security-Policy: ""
"""))
    assert cfg.headers == (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "deny"))
    with serving(cfg) as url:
        for auth, status in ((("alice", PASSWORD), 200), (None, 401)):
            resp = requests.get(url, auth=auth, verify=pki["ca.crt"])
            assert resp.status_code == status
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["X-Frame-Options"] == "deny"
            assert "Content-Security-Policy" not in resp.headers


def test_basic_auth_without_tls_over_plain_http(write_config: WriteConfig) -> None:
    cfg = load_web_config(write_config(USERS))
    assert cfg.tls is None
    with serving(cfg) as url:
        assert url.startswith("http://")
        assert requests.get(url).status_code == 401
        resp = requests.get(url, auth=("alice", PASSWORD))
        assert (resp.status_code, resp.text) == (200, "ok http")


@pytest.mark.parametrize("text", ["", "tls_server_config: {}\nbasic_auth_users: {}\n",
                                  "http_server_config: {http2: true}\n"])
def test_empty_config_serves_plain_http_without_auth(
    write_config: WriteConfig, text: str
) -> None:
    cfg = load_web_config(write_config(text))
    assert (cfg.tls, cfg.basic_auth_users, cfg.headers) == (None, {}, ())
    assert ssl_context(cfg) is None
    assert wrap_wsgi(app, cfg) is app
    with serving(cfg) as url:
        assert requests.get(f"{url}/metrics").text == "ok http"


def test_inline_cert_and_key_serve_tls(write_config: WriteConfig, pki: PKI) -> None:
    def block(name: str) -> str:
        body = (pki.dir / name).read_text().strip().replace("\n", "\n    ")
        return f"|\n    {body}\n"

    cfg = load_web_config(write_config(
        f"tls_server_config:\n  cert: {block('server.crt')}  key: {block('server.key')}"
    ))
    assert "PRIVATE KEY" not in repr(cfg)
    with serving(cfg) as url:
        assert requests.get(url, verify=pki["ca.crt"]).text == "ok https"


# --- config loading ----------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "conf"
    (conf_dir / "certs").mkdir(parents=True)
    for name in ("server.crt", "server.key", "ca.crt"):
        shutil.copy(pki.dir / name, conf_dir / "certs" / name)
    (conf_dir / "web.yml").write_text(
        "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n"
        "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: certs/ca.crt\n"
    )
    monkeypatch.chdir(tmp_path)
    cfg = load_web_config("conf/web.yml")
    assert cfg.tls is not None
    assert cfg.tls.cert_file == conf_dir / "certs" / "server.crt"
    assert cfg.tls.client_ca_file == conf_dir / "certs" / "ca.crt"
    ctx = ssl_context(cfg)
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_OPTIONAL


@pytest.mark.parametrize(("auth_type", "mode"), [
    ("RequestClientCert", ssl.CERT_NONE),
    ("RequireAnyClientCert", ssl.CERT_REQUIRED),
    ("RequireClientCert", ssl.CERT_REQUIRED),
    ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
    ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED),
])
def test_client_auth_types_map_to_verify_modes(
    write_config: WriteConfig, auth_type: str, mode: ssl.VerifyMode
) -> None:
    cfg = load_web_config(write_config(
        TLS + f"  client_auth_type: {auth_type}\n  client_ca_file: @D@/ca.crt\n"))
    ctx = ssl_context(cfg)
    assert ctx is not None
    assert ctx.verify_mode == mode


@pytest.mark.parametrize(("lines", "low", "high"), [
    ("", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
    ("  min_version: TLS10\n", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
    ("  min_version: TLS11\n  max_version: TLS12\n", ssl.TLSVersion.TLSv1_2,
     ssl.TLSVersion.TLSv1_2),
    ("  min_version: TLS13\n", ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3),
])
def test_tls_versions(
    write_config: WriteConfig, lines: str, low: ssl.TLSVersion, high: ssl.TLSVersion
) -> None:
    ctx = ssl_context(load_web_config(write_config(TLS + lines)))
    assert ctx is not None
    assert (ctx.minimum_version, ctx.maximum_version) == (low, high)


def test_htpasswd_style_2y_hashes_work(write_config: WriteConfig) -> None:
    cfg = load_web_config(write_config(f"basic_auth_users:\n  alice: '{HTPASSWD_HASH}'\n"))
    assert BasicAuth(cfg.basic_auth_users).check(_basic("alice", PASSWORD))


BAD_CONFIGS = {
    "unknown top key": ("nope: 1\n", "nope: unknown key"),
    "unknown tls key": (TLS + "  cert_flie: x\n",
                        "tls_server_config.cert_flie: unknown key (did you mean cert_file?)"),
    "unknown header": ("http_server_config:\n  headers: {Server: x}\n",
                       "http_server_config.headers.Server: unknown key"),
    "unknown http key": ("http_server_config:\n  keepalive: true\n",
                         "http_server_config.keepalive: unknown key"),
    "section not a mapping": ("tls_server_config: yes\n",
                              "tls_server_config: must be a mapping, not bool"),
    "client_auth_type": (TLS + "  client_auth_type: Sometimes\n",
                         "tls_server_config.client_auth_type: 'Sometimes' is not one of "
                         "NoClientCert, RequestClientCert"),
    "verify without ca": (TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
                          "tls_server_config.client_ca_file: required when client_auth_type "
                          "is RequireAndVerifyClientCert"),
    "verify-if-given without ca": (TLS + "  client_auth_type: VerifyClientCertIfGiven\n",
                                   "tls_server_config.client_ca_file: required when "
                                   "client_auth_type is VerifyClientCertIfGiven"),
    "require-any without ca": (TLS + "  client_auth_type: RequireAnyClientCert\n",
                               "tls_server_config.client_ca_file: required when client_auth_type"
                               " is RequireAnyClientCert: Python's TLS cannot accept"),
    "ca without client auth": (TLS + "  client_ca_file: @D@/ca.crt\n",
                               "tls_server_config.client_ca_file: set, but client_auth_type"),
    "ca not a certificate": (MTLS.replace("ca.crt", "ca.key"),
                             "tls_server_config.client_ca_file: no CA certificate loads"),
    "missing key file": (TLS.replace("server.key", "missing.key"),
                         "tls_server_config.key_file: cannot read @D@/missing.key: "
                         "No such file or directory"),
    "missing cert file": (TLS.replace("server.crt", "missing.crt"),
                          "tls_server_config.cert_file: cannot read @D@/missing.crt: "
                          "No such file or directory"),
    "cert file is a key": (TLS.replace("server.crt", "server.key"),
                           "tls_server_config.cert_file: no PEM certificate found"),
    "key file is a cert": (TLS.replace("server.key", "server.crt"),
                           "tls_server_config.key_file: no PEM private key found"),
    "key does not match": (TLS.replace("server.key", "client.key"),
                           "tls_server_config.key_file: does not match the certificate in "
                           "tls_server_config.cert_file"),
    "encrypted key": (TLS.replace("server.key", "encrypted.key"),
                      "tls_server_config.key_file: the private key is encrypted"),
    "cert without key": ("tls_server_config:\n  cert_file: @D@/server.crt\n",
                         "tls_server_config.key_file: required for TLS"),
    "only a min_version": ("tls_server_config:\n  min_version: TLS13\n",
                           "tls_server_config.cert_file: required for TLS"),
    "cert twice": (TLS + "  cert: inline\n",
                   "tls_server_config.cert: set either cert or cert_file, not both"),
    "unknown version": (TLS + "  min_version: TLS14\n",
                        "tls_server_config.min_version: 'TLS14' is not one of TLS10, TLS11, "
                        "TLS12, TLS13"),
    "min above max": (TLS + "  min_version: TLS13\n  max_version: TLS12\n",
                      "tls_server_config.min_version: TLS13 is above max_version TLS12"),
    "max too low": (TLS + "  max_version: TLS11\n",
                    "tls_server_config.max_version: TLS11 is below TLS12"),
    "unknown cipher": (TLS + "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
                       "tls_server_config.cipher_suites: unknown cipher suite(s) "
                       "TLS_RSA_WITH_RC4_128_SHA"),
    "only tls13 ciphers": (TLS + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
                           "tls_server_config.cipher_suites: lists only TLS 1.3 suites"),
    "curves": (TLS + "  curve_preferences: [CurveP256]\n",
               "tls_server_config.curve_preferences: not supported here"),
    "sans without required cert": (
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: @D@/ca.crt\n"
        "  client_allowed_sans: [a.example]\n",
        "tls_server_config.client_allowed_sans: needs client_auth_type"),
    "prefer not a bool": (TLS + "  prefer_server_cipher_suites: maybe\n",
                          "tls_server_config.prefer_server_cipher_suites: must be true or false"),
    "plain password": ("basic_auth_users:\n  alice: hunter2\n",
                       "basic_auth_users.alice: not a bcrypt hash"),
    "hash with a bad cost": (f"basic_auth_users:\n  alice: '{HASH.replace('$04$', '$99$')}'\n",
                             "basic_auth_users.alice: not a bcrypt hash"),
    "user with a colon": (f"basic_auth_users:\n  'a:b': '{HASH}'\n",
                          "basic_auth_users.a:b: a user name must be a non-empty string"),
    "users not a mapping": ("basic_auth_users: [alice]\n",
                            "basic_auth_users: must be a mapping of user name to bcrypt hash"),
    "header value": ("http_server_config:\n  headers: {X-Frame-Options: allow}\n",
                     "http_server_config.headers.X-Frame-Options: 'allow' is not one of "
                     "deny, sameorigin"),
    "http2 not a bool": ("http_server_config:\n  http2: 'yes please'\n",
                         "http_server_config.http2: must be true or false"),
    "rate limit": ("rate_limit: {interval: 1s, burst: 5}\n", "rate_limit: not supported here"),
    "not a mapping": ("- a\n- b\n", "web.yml: must be a YAML mapping"),
    "invalid yaml": ("basic_auth_users:\n  alice: [unclosed\n", "web.yml: invalid YAML at line"),
}


@pytest.mark.parametrize(("text", "expected"), list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS))
def test_each_config_error_names_its_key_path(
    write_config: WriteConfig, pki: PKI, text: str, expected: str
) -> None:
    with pytest.raises(WebConfigError) as info:
        load_web_config(write_config(text))
    assert expected.replace("@D@", str(pki.dir)) in str(info.value)


def test_all_problems_are_reported_at_once(write_config: WriteConfig) -> None:
    with pytest.raises(WebConfigError) as info:
        load_web_config(write_config(
            "nope: 1\nbasic_auth_users:\n  alice: x\ntls_server_config: {client_auth_type: x}\n"
        ))
    lines = info.value.lines()
    assert "nope: unknown key" in lines
    assert any(line.startswith("basic_auth_users.alice: not a bcrypt hash") for line in lines)
    assert any(line.startswith("tls_server_config.client_auth_type: 'x'") for line in lines)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match=r"cannot read .*absent\.yml: No such file"):
        load_web_config(tmp_path / "absent.yml")


def test_no_hash_or_key_ever_appears_in_an_error(write_config: WriteConfig, pki: PKI) -> None:
    almost = HASH[:-3]  # the right shape but too short: invalid, and still secret-looking
    messages = []
    for text in (
        f"basic_auth_users:\n  alice: '{almost}'\n",
        f"basic_auth_users:\n  alice: {HASH}: x\n",  # PyYAML's own message would quote it
        f"basic_auth_users:\n  alice: {HASH}\n  bob: [{HASH}]\n",
        TLS.replace("server.key", "client.key"),
        "tls_server_config:\n  cert_file: @D@/server.crt\n  key: |\n    -----BEGIN PRIVATE "
        "KEY-----\n    c2VjcmV0LWtleS1ieXRlcw==\n    -----END PRIVATE KEY-----\n",
    ):
        with pytest.raises(WebConfigError) as info:
            load_web_config(write_config(text))
        messages.append(str(info.value))
    joined = "\n".join(messages)
    assert almost[7:] not in joined
    assert HASH[7:] not in joined
    assert HASH[-20:] not in joined
    assert "c2VjcmV0" not in joined
    assert "PRIVATE KEY" not in joined
    assert (pki.dir / "client.key").read_text().splitlines()[1] not in joined
    cfg = load_web_config(write_config(USERS))
    assert HASH[7:] not in repr(cfg) + str(cfg)


# --- BasicAuth ---------------------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


def test_a_success_is_cached_for_the_ttl(bcrypt_calls: list[bytes]) -> None:
    from exporter.config import Secret

    clock = Clock()
    auth = BasicAuth({"alice": Secret(HASH)}, cache_ttl=60, clock=clock)
    assert auth.check(_basic("alice", PASSWORD))
    assert auth.check(_basic("alice", PASSWORD))
    assert len(bcrypt_calls) == 1
    clock.now += 59
    assert auth.check(_basic("alice", PASSWORD))
    assert len(bcrypt_calls) == 1
    clock.now += 2
    assert auth.check(_basic("alice", PASSWORD))
    assert len(bcrypt_calls) == 2


def test_failures_are_not_cached_and_never_pass(bcrypt_calls: list[bytes]) -> None:
    from exporter.config import Secret

    auth = BasicAuth({"alice": Secret(HASH)}, clock=Clock())
    assert auth.check(_basic("alice", PASSWORD))
    for _ in range(2):
        assert not auth.check(_basic("alice", PASSWORD + "x"))
        assert not auth.check(_basic("alice", PASSWORD[:-1]))
    assert len(bcrypt_calls) == 5


def test_unknown_user_still_pays_for_bcrypt(bcrypt_calls: list[bytes]) -> None:
    from exporter.config import Secret

    auth = BasicAuth({"alice": Secret(HASH)})
    assert not auth.check(_basic("mallory", PASSWORD))
    assert len(bcrypt_calls) == 1
    assert bcrypt_calls[0] != HASH.encode()
    assert bcrypt_calls[0].startswith(b"$2b$04$")  # the decoy has the users' cost


@pytest.mark.parametrize("header", [
    None, "", "Bearer abc", "Basic", "Basic !!notbase64!!",
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Digest " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
])
def test_malformed_headers_are_refused_without_bcrypt(
    bcrypt_calls: list[bytes], header: str | None
) -> None:
    from exporter.config import Secret

    assert not BasicAuth({"alice": Secret(HASH)}).check(header)
    assert bcrypt_calls == []


def test_scheme_is_case_insensitive_and_passwords_may_hold_colons() -> None:
    from exporter.config import Secret

    colon_hash = bcrypt.hashpw(b"a:b:c", bcrypt.gensalt(4)).decode()
    auth = BasicAuth({"alice": Secret(HASH), "bob": Secret(colon_hash)})
    assert auth.check(_basic("alice", PASSWORD).replace("Basic", "bAsIc"))
    assert auth.check(_basic("bob", "a:b:c"))
    assert not auth.check(_basic("bob", "a"))


def test_overlong_password_is_refused_not_truncated() -> None:
    from exporter.config import Secret

    long_password = "x" * 80
    auth = BasicAuth({"alice": Secret(bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(4)).decode())})
    assert auth.check(_basic("alice", "x" * 72))
    assert not auth.check(_basic("alice", long_password))


def test_cache_is_bounded(bcrypt_calls: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    from exporter.config import Secret

    monkeypatch.setattr(BasicAuth, "CACHE_MAX", 2)
    auth = BasicAuth({u: Secret(HASH) for u in ("a", "b", "c")}, clock=Clock())
    for user in ("a", "b", "c", "c"):
        assert auth.check(_basic(user, PASSWORD))
    assert len(bcrypt_calls) == 3
    assert auth.check(_basic("a", PASSWORD))  # evicted, so verified again
    assert len(bcrypt_calls) == 4


# --- the exporter itself, as a real process, behind TLS and basic auth -------------------


def test_exporter_process_serves_tls_and_basic_auth(
    write_config: WriteConfig, pki: PKI, tmp_path: Path
) -> None:
    from exporter.simulator import SimAccount, Simulator
    from tests.procs import start_exporter
    from tests.procs import write_config as write_exporter_config

    web = write_config(TLS + USERS)
    with Simulator([SimAccount("tls-acc")]) as sim:
        cfg = write_exporter_config(tmp_path, sim.exporter_config(tmp_path / "creds"))
        exp = start_exporter(cfg, "--web.config.file", str(web))
        try:
            base = f"https://127.0.0.1:{exp.port}"
            ca = pki["ca.crt"]
            assert requests.get(base + "/-/healthy", verify=ca, timeout=10).status_code == 200
            for path in ("/metrics", "/", "/api/v1/quota", "/-/ready"):
                resp = requests.get(base + path, verify=ca, timeout=10)
                assert resp.status_code == 401, path
                assert resp.headers["WWW-Authenticate"].startswith("Basic")
            wrong = requests.get(base + "/metrics", verify=ca, auth=("alice", "nope"), timeout=10)
            assert wrong.status_code == 401
            ok = requests.get(base + "/metrics", verify=ca, auth=("alice", PASSWORD), timeout=10)
            assert ok.status_code == 200
            assert 'llm_quota_up{account="tls-acc",provider="antigravity"} 1.0' in ok.text
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://127.0.0.1:{exp.port}/metrics", timeout=10)
        finally:
            exp.stop()
        assert HASH not in exp.logs and PASSWORD not in exp.logs


def test_exporter_refuses_a_bad_web_config_naming_the_key(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    import subprocess
    import sys

    web = write_config("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: x\n")
    cfg = tmp_path / "c.yml"
    cfg.write_text("accounts:\n  - name: a\n    provider: antigravity\n"
                   "    credentials: {access_token: t}\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(cfg),
         "--web.config.file", str(web), "--web.listen-address", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "tls_server_config.cert_file" in result.stderr
