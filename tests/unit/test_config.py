"""Config loading: the happy path, defaults, and every failure naming its key path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.config import (
    ACCOUNT_KEYS,
    CREDENTIAL_KEYS,
    OAUTH_CLIENT_KEYS,
    TOP_KEYS,
    AccountConfig,
    Config,
    ConfigError,
    Credentials,
    OAuthClient,
    Secret,
)
from exporter.providers import load_config, parse_config
from exporter.providers.antigravity import SPEC as ANTIGRAVITY

FIXTURES = Path(__file__).parents[1] / "fixtures" / "config"
# Planted in configs and secret files; must never surface in an error or repr.
PLANTED = "ya29.PLANTED-SECRET-7f3a9c"

WriteConfig = Callable[[str], Path]

MINIMAL_ACCOUNT = """
  - name: work
    provider: antigravity
    credentials: {access_token: tok}
"""


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write `text` as tmp_path/config.yaml and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return info.value.problems


def paths_of(problems: list[tuple[str, str]]) -> list[str]:
    return [p for p, _ in problems]


def parse(data: object, tmp_path: Path, env: dict[str, str] | None = None) -> Config:
    return parse_config(data, env=env or {}, base_dir=tmp_path)


def parse_problems(
    data: object, tmp_path: Path, env: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse(data, tmp_path, env)
    return info.value.problems


def account(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "work",
        "provider": "antigravity",
        "credentials": {"access_token": "tok"},
    }
    base.update(overrides)
    return base


# -- the happy path ---------------------------------------------------------


def test_full_config_round_trips_every_value(write_config: WriteConfig, tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text('{"access_token": "x"}')
    (tmp_path / "client-secret").write_text("  client-s3cret\n")
    path = write_config(
        """
concurrency: 8
refresh_interval: 1m
defaults:
  timeout: 5s
  min_interval: 30s
accounts:
  - name: work
    provider: antigravity
    credentials:
      file: auth.json
    oauth_client:
      client_id: ${CLIENT_ID}
      client_secret_file: client-secret
    project: my-project-id
    endpoints: [https://a.example.test/, http://127.0.0.1:8080]
    token_url: http://127.0.0.1:9/token
    sources: [summary]
    user_agent: "antigravity/9.9.9 linux/amd64"
    project_cache_ttl: 2h
    expose_email: true
    expose_project: true
"""
    )
    config = load_config(path, env={"CLIENT_ID": "client-123.apps"})
    assert config == Config(
        accounts=(
            AccountConfig(
                name="work",
                provider="antigravity",
                credentials=Credentials(kind="file", path=tmp_path / "auth.json"),
                oauth_client=OAuthClient("client-123.apps", Secret("client-s3cret")),
                project="my-project-id",
                endpoints=("https://a.example.test", "http://127.0.0.1:8080"),
                token_url="http://127.0.0.1:9/token",
                sources=frozenset({"summary"}),
                timeout=5.0,
                min_interval=30.0,
                user_agent="antigravity/9.9.9 linux/amd64",
                project_cache_ttl=7200.0,
                expose_email=True,
                expose_project=True,
            ),
        ),
        concurrency=8,
        refresh_interval=60.0,
        path=path,
    )


def test_minimal_account_gets_documented_defaults(write_config: WriteConfig) -> None:
    config = load_config(write_config("accounts:" + MINIMAL_ACCOUNT), env={})
    (acc,) = config.accounts
    assert config.concurrency == 1000
    assert config.refresh_interval == 30.0
    assert acc.credentials == Credentials(kind="access_token", secret=Secret("tok"))
    assert acc.oauth_client is None
    assert acc.project is None
    assert acc.endpoints == ANTIGRAVITY.endpoints
    assert acc.token_url == ANTIGRAVITY.token_url == "https://oauth2.googleapis.com/token"
    assert acc.sources == frozenset({"models", "summary"})
    assert (acc.timeout, acc.min_interval, acc.project_cache_ttl) == (10.0, 0.0, 3600.0)
    assert acc.user_agent == ANTIGRAVITY.user_agent
    assert acc.user_agent.startswith("antigravity/")
    assert acc.headers == ()
    assert (acc.expose_email, acc.expose_project) == (False, False)


def test_defaults_apply_to_every_account_and_account_values_win(tmp_path: Path) -> None:
    data = {
        "defaults": {"timeout": "3s", "sources": ["models"], "expose_email": True},
        "accounts": [account(name="a"), account(name="b", timeout=7, expose_email=False)],
    }
    a, b = parse(data, tmp_path).accounts
    assert (a.timeout, a.sources, a.expose_email) == (3.0, frozenset({"models"}), True)
    assert (b.timeout, b.sources, b.expose_email) == (7.0, frozenset({"models"}), False)


def test_null_defaults_section_is_treated_as_empty(write_config: WriteConfig) -> None:
    config = load_config(write_config("defaults:\n  # timeout: 5s\naccounts:" + MINIMAL_ACCOUNT))
    assert config.accounts[0].timeout == 10.0


def test_oauth_client_from_defaults_serves_refresh_tokens(tmp_path: Path) -> None:
    shared = {"client_id": "shared-id", "client_secret": "shared-secret"}
    data = {
        "defaults": {"oauth_client": shared},
        "accounts": [account(credentials={"refresh_token": "1//r"})],
    }
    (acc,) = parse(data, tmp_path).accounts
    assert acc.credentials == Credentials(kind="refresh_token", secret=Secret("1//r"))
    assert acc.oauth_client == OAuthClient("shared-id", Secret("shared-secret"))


def test_account_oauth_client_replaces_the_default_one_whole(tmp_path: Path) -> None:
    data = {
        "defaults": {"oauth_client": {"client_id": "shared", "client_secret": "s"}},
        "accounts": [account(oauth_client={"client_id": "own"})],
    }
    assert parse(data, tmp_path).accounts[0].oauth_client == OAuthClient("own", None)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("1h30m", 5400.0), (15, 15.0), (2.5, 2.5), (0, 0.0)],
)
def test_durations_accept_text_and_plain_seconds(
    tmp_path: Path, text: object, seconds: float
) -> None:
    data = {"accounts": [account(min_interval=text)]}
    assert parse(data, tmp_path).accounts[0].min_interval == seconds


def test_secret_files_are_read_stripped_and_token_files_kept_as_paths(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n  at-value \n")
    (tmp_path / "cs").write_text("cs-value\n")
    data = {
        "accounts": [
            account(
                credentials={"refresh_token_file": "token"},
                oauth_client={"client_id": "id", "client_secret_file": "cs"},
            )
        ]
    }
    (acc,) = parse(data, tmp_path).accounts
    assert acc.credentials == Credentials(kind="refresh_token_file", path=tmp_path / "token")
    assert acc.oauth_client == OAuthClient("id", Secret("cs-value"))


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "etc"
    (conf_dir / "secrets").mkdir(parents=True)
    (conf_dir / "secrets" / "at").write_text("tok")
    (conf_dir / "config.yaml").write_text(
        "accounts:\n  - {name: w, provider: antigravity,"
        " credentials: {access_token_file: secrets/at}}\n"
    )
    monkeypatch.chdir(tmp_path)  # the cwd must not matter
    config = load_config(Path("etc/config.yaml"), env={})
    assert config.accounts[0].credentials.path == conf_dir / "secrets" / "at"
    assert config.path == conf_dir / "config.yaml"


def test_tilde_expands_to_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "auth.json").write_text("{}")
    data = {"accounts": [account(credentials={"file": "~/auth.json"})]}
    assert parse(data, Path("/nonexistent")).accounts[0].credentials.path == tmp_path / "auth.json"


def test_credentials_file_is_only_opened_never_changed(tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text('{"refresh_token": "r"}')
    before = auth.stat()
    parse({"accounts": [account(credentials={"file": str(auth)})]}, tmp_path)
    after = auth.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert auth.read_text() == '{"refresh_token": "r"}'


# -- environment expansion --------------------------------------------------


def test_env_vars_expand_in_any_string_value(tmp_path: Path) -> None:
    data = {
        "accounts": [
            account(project="p-${SUFFIX}", timeout="${T}", credentials={"access_token": "${AT}"})
        ]
    }
    (acc,) = parse(data, tmp_path, env={"SUFFIX": "42", "T": "20s", "AT": "from-env"}).accounts
    assert (acc.project, acc.timeout) == ("p-42", 20.0)
    assert acc.credentials.secret == Secret("from-env")


def test_double_dollar_brace_is_a_literal(tmp_path: Path) -> None:
    data = {"accounts": [account(user_agent="ua $${HOME} $$x $y")]}
    assert parse(data, tmp_path).accounts[0].user_agent == "ua ${HOME} $$x $y"


def test_load_config_reads_os_environ_by_default(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LQE_TEST_PROJECT", "from-os-env")
    path = write_config("accounts:" + MINIMAL_ACCOUNT + "    project: ${LQE_TEST_PROJECT}\n")
    assert load_config(path).accounts[0].project == "from-os-env"


def test_missing_env_var_names_the_key_and_the_variable(tmp_path: Path) -> None:
    data = {"accounts": [account(oauth_client={"client_id": "${ANTIGRAVITY_OAUTH_CLIENT_ID}"})]}
    assert parse_problems(data, tmp_path) == [
        (
            "accounts[0].oauth_client.client_id",
            "environment variable ANTIGRAVITY_OAUTH_CLIENT_ID is not set",
        )
    ]


@pytest.mark.parametrize("text", ["${UNCLOSED", "${}", "${1BAD}", "${A-B}"])
def test_malformed_variable_references_are_refused(tmp_path: Path, text: str) -> None:
    problems = parse_problems({"accounts": [account(project=text)]}, tmp_path, {"A": "a"})
    assert paths_of(problems) == ["accounts[0].project"]


def test_expanded_values_never_appear_in_errors(tmp_path: Path) -> None:
    data = {
        "accounts": [
            account(timeout="${T}", token_url="${U}", name="${N}", sources=["${S}"]),
        ]
    }
    env = {"T": PLANTED, "U": PLANTED, "S": PLANTED, "N": PLANTED + " not/a/name"}
    problems = dict(parse_problems(data, tmp_path, env))
    assert sorted(problems) == [
        "accounts[0].name",
        "accounts[0].sources[0]",
        "accounts[0].timeout",
        "accounts[0].token_url",
    ]
    assert PLANTED not in str(problems)
    assert problems["accounts[0].name"].startswith(
        '"${N}" (after ${...} expansion) is not a valid name')
    assert problems["accounts[0].timeout"].startswith(
        '"${T}" (after ${...} expansion) is not a duration')
    assert problems["accounts[0].sources[0]"].startswith(
        'unknown source "${S}" (after ${...} expansion) for provider antigravity')


def test_non_utf8_secret_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"\xff\xfe" + PLANTED.encode())
    data = {"accounts": [account(credentials={"access_token_file": "bin"})]}
    assert parse_problems(data, tmp_path) == [
        (
            "accounts[0].credentials.access_token_file",
            f"cannot read {tmp_path / 'bin'}: not UTF-8 text",
        )
    ]


# -- failure modes, one fixture each ----------------------------------------


# (fixture, key path, message fragment): every problem each fixture yields.
FIXTURE_PROBLEMS = [
    ("unknown_key", "accounts[0].credentals", "unknown key (did you mean credentials?)"),
    ("unknown_key", "accounts[0].credentials", "required key is missing"),
    ("duplicate_name", "accounts[1].name", 'duplicate account name "work" (also accounts[0]'),
    ("bad_duration", "defaults.timeout", '"10 parsecs" is not a duration'),
    ("zero_timeout", "accounts[0].timeout", "must be greater than zero"),
    ("two_credentials", "accounts[0].credentials", "got access_token, refresh_token"),
    ("no_credentials", "accounts[0].credentials", "set exactly one of file,"),
    ("refresh_without_oauth_client", "accounts[0].oauth_client", "needs an oauth_client"),
    ("missing_credentials_file", "accounts[0].credentials.file", "No such file or directory"),
    ("no_accounts", "accounts", "no accounts configured"),
    ("empty", "", "the config is empty"),
    ("top_level_list", "", "the top level must be a mapping, got a list"),
    ("missing_env_var", "accounts[0].oauth_client.client_id", "ANTIGRAVITY_OAUTH_CLIENT_ID"),
    ("unknown_provider", "accounts[0].provider", 'unknown provider "gemini"'),
    ("bad_endpoint", "accounts[0].endpoints[1]", "expected an http:// or https:// URL"),
    ("unknown_source", "accounts[0].sources[1]", 'unknown source "quota"'),
    ("project_in_defaults", "defaults.project", "unknown key"),
    ("both_client_secrets", "defaults.oauth_client", "not both"),
]


@pytest.mark.parametrize(("fixture", "path", "fragment"), FIXTURE_PROBLEMS)
def test_each_failure_fixture_is_refused_at_its_key_path(
    fixture: str, path: str, fragment: str
) -> None:
    problems = problems_of(FIXTURES / f"{fixture}.yaml")
    assert paths_of(problems) == [p for f, p, _ in FIXTURE_PROBLEMS if f == fixture]
    assert fragment in dict(problems)[path]


def test_every_fixture_file_is_covered() -> None:
    covered = {f for f, _, _ in FIXTURE_PROBLEMS} | {"yaml_syntax"}
    assert {p.stem for p in FIXTURES.glob("*.yaml")} == covered


def test_yaml_syntax_error_reports_file_line_and_column() -> None:
    fixture = FIXTURES / "yaml_syntax.yaml"
    ((path, message),) = problems_of(fixture)
    assert path == ""
    assert message.startswith(f"{fixture}: YAML syntax error at line 4, column 4:")


def test_yaml_syntax_error_does_not_quote_the_offending_line(write_config: WriteConfig) -> None:
    path = write_config(f"accounts:\n  - name: w\n   access_token: {PLANTED}\n")
    assert PLANTED not in str(problems_of(path))


def test_unreadable_config_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert problems_of(missing) == [("", f"cannot read {missing}: No such file or directory")]


def test_missing_file_message_gives_resolved_path_and_reason() -> None:
    ((_, message),) = problems_of(FIXTURES / "missing_credentials_file.yaml")
    assert message == f"cannot read {FIXTURES / 'no-such-auth.json'}: No such file or directory"


# -- failure modes, inline --------------------------------------------------


def test_all_problems_are_collected_not_just_the_first(tmp_path: Path) -> None:
    data = {
        "concurrency": 0,
        "defaults": {"timeout": "soon"},
        "accounts": [
            account(credentials={"access_token": "a", "file": "f"}),
            account(provider="openai", typo=1),
            "not-a-mapping",
        ],
    }
    assert paths_of(parse_problems(data, tmp_path)) == [
        "concurrency",
        "defaults.timeout",
        "accounts[0].credentials",
        "accounts[1].typo",
        "accounts[1].name",
        "accounts[1].provider",
        "accounts[2]",
    ]


def test_unknown_key_is_refused_with_its_path_and_the_allowed_keys(tmp_path: Path) -> None:
    data = {"accounts": [account(oauth_client={"client_id": "x", "secret": "s"})], "extra": 1}
    problems = dict(parse_problems(data, tmp_path))
    assert problems.keys() == {"extra", "accounts[0].oauth_client.secret"}
    assert problems["extra"] == (
        "unknown key; expected one of concurrency, refresh_interval, discover, defaults, "
        "accounts")
    assert (
        "client_id, client_secret, client_secret_file"
        in problems["accounts[0].oauth_client.secret"]
    )


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"concurrency": "8"}, "concurrency", "expected an integer >= 1, got a string"),
        ({"concurrency": True}, "concurrency", "expected an integer >= 1, got a boolean"),
        ({"accounts": {"work": {}}}, "accounts", "expected a list of accounts, got a mapping"),
        ({"defaults": []}, "defaults", "expected a mapping, got a list"),
        ({"expose_email": "yes"}, "accounts[0].expose_email", "expected true or false"),
        ({"endpoints": "https://x"}, "accounts[0].endpoints", "got a string"),
        ({"endpoints": []}, "accounts[0].endpoints", "got an empty list"),
        ({"sources": []}, "accounts[0].sources", "got an empty list"),
        ({"user_agent": 7}, "accounts[0].user_agent", "expected a string, got an integer"),
        ({"project": None}, "accounts[0].project", "expected a string, got null"),
        ({"credentials": "tok"}, "accounts[0].credentials", "expected a mapping, got a string"),
        ({"oauth_client": {}}, "accounts[0].oauth_client.client_id", "required key is missing"),
    ],
)
def test_wrong_types_name_the_path_and_expected_type(
    tmp_path: Path, data: dict[str, object], path: str, fragment: str
) -> None:
    top_keys = {"concurrency", "accounts", "defaults"}
    doc: dict[str, object] = {"accounts": [account()]}
    doc.update({k: v for k, v in data.items() if k in top_keys})
    if not top_keys & data.keys():
        doc["accounts"] = [account(**data)]
    ((got_path, message),) = parse_problems(doc, tmp_path)
    assert got_path == path
    assert fragment in message


@pytest.mark.parametrize("name", ["", "has space", "ünïcode", "a/b"])
def test_invalid_account_names_are_refused(tmp_path: Path, name: str) -> None:
    assert paths_of(parse_problems({"accounts": [account(name=name)]}, tmp_path)) == [
        "accounts[0].name"
    ]


def test_missing_required_account_keys_are_each_named(tmp_path: Path) -> None:
    assert parse_problems({"accounts": [{}]}, tmp_path) == [
        ("accounts[0].name", "required key is missing"),
        ("accounts[0].provider", "required key is missing"),
        ("accounts[0].credentials", "required key is missing"),
    ]


@pytest.mark.parametrize("value", [True, -1, -0.5, "-5s", "10 parsecs", "", [], float("inf")])
def test_bad_durations_are_refused(tmp_path: Path, value: object) -> None:
    problems = parse_problems({"accounts": [account(project_cache_ttl=value)]}, tmp_path)
    assert paths_of(problems) == ["accounts[0].project_cache_ttl"]


@pytest.mark.parametrize(("value", "seconds"), [("0s", 0.0), ("45s", 45.0), (5, 5.0)])
def test_refresh_interval_is_a_duration_and_zero_turns_it_off(
    tmp_path: Path, value: object, seconds: float
) -> None:
    doc = {"refresh_interval": value, "accounts": [account()]}
    assert parse(doc, tmp_path).refresh_interval == seconds


@pytest.mark.parametrize("value", ["-5s", "soon", True, [30]])
def test_bad_refresh_interval_is_named(tmp_path: Path, value: object) -> None:
    problems = parse_problems({"refresh_interval": value, "accounts": [account()]}, tmp_path)
    assert paths_of(problems) == ["refresh_interval"]


def test_zero_min_interval_is_fine_but_zero_timeout_is_not(tmp_path: Path) -> None:
    assert parse({"accounts": [account(min_interval=0)]}, tmp_path).accounts[0].min_interval == 0
    problems = parse_problems({"accounts": [account(timeout=0)]}, tmp_path)
    assert problems == [("accounts[0].timeout", "0 must be greater than zero")]


def test_duplicate_sources_are_refused(tmp_path: Path) -> None:
    problems = parse_problems({"accounts": [account(sources=["models", "models"])]}, tmp_path)
    assert problems == [("accounts[0].sources[1]", 'duplicate source "models"')]


@pytest.mark.parametrize("url", ["ftp://x.test", "not a url", "https://", "http://[::1"])
def test_token_url_must_be_http_with_a_host(tmp_path: Path, url: str) -> None:
    problems = parse_problems({"accounts": [account(token_url=url)]}, tmp_path)
    assert problems == [
        ("accounts[0].token_url", "expected an http:// or https:// URL with a host")
    ]


def test_refresh_token_file_without_oauth_client_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rt").write_text("1//r")
    data = {"accounts": [account(credentials={"refresh_token_file": "rt"})]}
    assert paths_of(parse_problems(data, tmp_path)) == ["accounts[0].oauth_client"]


def test_invalid_oauth_client_is_reported_once_not_also_as_missing(tmp_path: Path) -> None:
    data = {"accounts": [account(credentials={"refresh_token": "r"}, oauth_client="id")]}
    assert paths_of(parse_problems(data, tmp_path)) == ["accounts[0].oauth_client"]


def test_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blank").write_text(" \n\n")
    data = {"accounts": [account(credentials={"access_token_file": "blank"})]}
    assert parse_problems(data, tmp_path) == [
        ("accounts[0].credentials.access_token_file", f"{tmp_path / 'blank'} is empty")
    ]


def test_directory_as_secret_file_is_unreadable(tmp_path: Path) -> None:
    data = {"accounts": [account(oauth_client={"client_id": "i", "client_secret_file": "."})]}
    assert parse_problems(data, tmp_path) == [
        ("accounts[0].oauth_client.client_secret_file", f"cannot read {tmp_path}: Is a directory")
    ]


def test_oversized_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * (64 * 1024 + 1))
    data = {"accounts": [account(credentials={"access_token_file": "big"})]}
    assert "over 64 KiB" in parse_problems(data, tmp_path)[0][1]


def test_blank_inline_token_is_refused(tmp_path: Path) -> None:
    data = {"accounts": [account(credentials={"access_token": "  "})]}
    assert parse_problems(data, tmp_path) == [
        ("accounts[0].credentials.access_token", "must not be empty")
    ]


# -- secrets stay secret ----------------------------------------------------


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    (tmp_path / "cs").write_text(PLANTED)
    data = {
        "accounts": [
            account(credentials={"access_token": PLANTED, "refresh_token": PLANTED}),
            account(
                name="b",
                credentials={"refresh_token": PLANTED},
                oauth_client={"client_secret": PLANTED, "client_secret_file": "cs"},
            ),
            account(name="c", credentials={"refresh_token": PLANTED}, expose_email=PLANTED),
            account(name="d", credentials={"access_token": PLANTED}, endpoints=[PLANTED]),
        ]
    }
    with pytest.raises(ConfigError) as info:
        parse(data, tmp_path)
    assert paths_of(info.value.problems) == [
        "accounts[0].credentials",
        "accounts[1].oauth_client.client_id",
        "accounts[1].oauth_client",
        "accounts[2].expose_email",
        "accounts[2].oauth_client",
        "accounts[3].endpoints[0]",
    ]
    assert PLANTED not in str(info.value)
    assert PLANTED not in "\n".join(info.value.lines())


def test_secrets_do_not_show_in_config_repr(tmp_path: Path) -> None:
    (tmp_path / "cs").write_text(PLANTED + "-file")
    data = {
        "accounts": [
            account(
                credentials={"refresh_token": PLANTED},
                oauth_client={"client_id": "id", "client_secret_file": "cs"},
            )
        ]
    }
    config = parse(data, tmp_path)
    assert PLANTED not in repr(config)
    assert PLANTED not in str(config)
    assert config.accounts[0].oauth_client == OAuthClient("id", Secret(PLANTED + "-file"))


def test_error_lines_read_as_path_colon_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse({"accounts": [account(timeout=-1)]}, tmp_path)
    assert info.value.lines() == ["accounts[0].timeout: -1 must be a finite, non-negative duration"]


# -- robustness -------------------------------------------------------------

_KNOWN_KEYS = sorted({*TOP_KEYS, *ACCOUNT_KEYS, *CREDENTIAL_KEYS, *OAUTH_CLIENT_KEYS})
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["antigravity", "models", "30s", "${SET}", "${UNSET}", ".", "/", "x"])
)
_keys = st.sampled_from(_KNOWN_KEYS) | st.text(max_size=6) | st.integers() | st.none()
_trees = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=6),
    max_leaves=25,
)
_account_like = st.dictionaries(st.sampled_from(_KNOWN_KEYS), _trees, max_size=8)
_documents = _trees | st.fixed_dictionaries(
    {"accounts": st.lists(_account_like, max_size=3)},
    optional={"defaults": _account_like, "concurrency": _scalars},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_yaml_shaped_document_yields_config_or_config_error(data: object) -> None:
    base_dir = FIXTURES  # read-only use: no test writes here
    try:
        config = parse_config(data, env={"SET": "value"}, base_dir=base_dir)
    except ConfigError as exc:
        assert exc.problems
        assert all(isinstance(p, str) and isinstance(m, str) for p, m in exc.problems)
    else:
        assert isinstance(config, Config)
        assert all(isinstance(a, AccountConfig) for a in config.accounts)


# -- provider-specific checks, credentials.user, headers ---------------------------


def test_credentials_user_picks_an_account_of_a_shared_file(tmp_path: Path) -> None:
    (tmp_path / "accounts.json").write_text('{"accounts": []}')
    config = parse({"accounts": [account(credentials={"file": "accounts.json",
                                                      "user": "b@example.com"})]}, tmp_path)
    assert config.accounts[0].credentials.user == "b@example.com"
    problems = parse_problems(
        {"accounts": [account(credentials={"access_token": "t", "user": "x"})]}, tmp_path)
    assert problems == [("accounts[0].credentials.user",
                         "user only goes with file (it picks one of the accounts a credentials "
                         "file holds)")]


def test_an_unreadable_file_path_does_not_show_the_email_in_its_name(tmp_path: Path) -> None:
    missing = tmp_path / "antigravity-alice@example.com.json"
    problems = parse_problems({"accounts": [account(credentials={"file": str(missing)})]},
                              tmp_path)
    assert problems[0][0] == "accounts[0].credentials.file"
    assert "alice" not in problems[0][1] and "<email>.json" in problems[0][1]


def test_headers_are_validated_and_reserved_ones_refused(tmp_path: Path) -> None:
    config = parse({"accounts": [account(headers={"Editor-Version": "vscode/1.107.0"})]},
                   tmp_path)
    assert config.accounts[0].headers == (("Editor-Version", "vscode/1.107.0"),)
    problems = dict(parse_problems({"accounts": [account(headers={
        "Authorization": "x", "Bad Name": "y", "X-Ok": "line\nbreak"})]}, tmp_path))
    assert set(problems) == {"accounts[0].headers.Authorization",
                             "accounts[0].headers.Bad Name", "accounts[0].headers.X-Ok"}
    assert "set by the exporter" in problems["accounts[0].headers.Authorization"]


def test_a_source_the_provider_does_not_have_is_named_where_it_was_written(
    tmp_path: Path,
) -> None:
    problems = parse_problems({"defaults": {"sources": ["usage"]}, "accounts": [account()]},
                              tmp_path)
    assert problems == [("defaults.sources[0]",
                         'unknown source "usage" for provider antigravity; '
                         "expected one of models, summary")]


def test_config_knows_each_providers_sources_credentials_and_defaults(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(
        "accounts:\n"
        "  - {name: a, provider: copilot, credentials: {refresh_token: r},\n"
        "     oauth_client: {client_id: x}}\n"
        "  - {name: b, provider: gemini-cli, credentials: {access_token: t}, sources: [usage]}\n"
        "  - {name: c, provider: copilot, credentials: {access_token: t}, sources: [quota]}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(config, env={})
    lines = err.value.lines()
    assert ("accounts[0].credentials.refresh_token: provider copilot does not accept "
            "refresh_token; use one of file, access_token, access_token_file") in lines
    assert any(line.startswith('accounts[1].sources[0]: unknown source "usage" for provider '
                               "gemini-cli; expected one of quota") for line in lines), lines
    assert any('unknown source "quota" for provider copilot' in line for line in lines)
    config.write_text(
        "accounts:\n"
        "  - {name: a, provider: copilot, credentials: {access_token: t}}\n"
        "  - {name: b, provider: gemini-cli, credentials: {access_token: t}}\n",
        encoding="utf-8")
    a, b = load_config(config, env={}).accounts
    assert (a.endpoints, a.sources, a.user_agent, a.token_url) == (
        ("https://api.github.com",), frozenset({"usage"}), "GitHubCopilotChat/0.35.0", "")
    assert (b.endpoints, b.sources, b.token_url) == (
        ("https://cloudcode-pa.googleapis.com",), frozenset({"quota"}),
        "https://oauth2.googleapis.com/token")
