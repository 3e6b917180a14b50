"""Antigravity body parsers against the known example bodies and odd shapes."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.providers.antigravity.parse import (
    model_provider_slug,
    parse_models,
    parse_summary,
    pool_slug,
)
from exporter.providers.google.codeassist import parse_load_code_assist
from exporter.providers.google.errors import parse_error
from exporter.providers.parsing import ParseError
from exporter.timefmt import parse_rfc3339

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_paid_tier_comes_from_paid_tier_over_current_tier() -> None:
    info = parse_load_code_assist(body("loadCodeAssist.paid.json"))
    assert info.project == "bright-harbor-x4k2p"
    assert (info.tier, info.tier_name) == ("g1-pro-tier", "Google AI Pro")


def test_free_tier_project_given_as_object_with_id() -> None:
    info = parse_load_code_assist(body("loadCodeAssist.free.json"))
    assert info.project == "quiet-meadow-7b1qz"
    assert info.tier == "free-tier"
    assert info.tier_name == "Gemini Code Assist for individuals"


def test_not_onboarded_has_no_project_and_keeps_upstream_reason() -> None:
    info = parse_load_code_assist(body("loadCodeAssist.not-onboarded.json"))
    assert info.project is None
    assert info.tier == "unknown"
    assert "Verify your account" in info.ineligible_reason


def test_models_skip_internal_entries_and_keep_missing_fraction_as_none() -> None:
    models = {m.model: m for m in parse_models(body("fetchAvailableModels.paid.json"))}
    assert set(models) == {
        "gemini-3-pro-high", "gemini-3-flash", "claude-sonnet-4-5",
        "claude-opus-4-5-thinking", "gpt-oss-120b-medium",
    }
    assert models["gemini-3-pro-high"].remaining_fraction == pytest.approx(0.7829875)
    assert models["gemini-3-pro-high"].display_name == "Gemini 3 Pro (High)"
    assert models["gemini-3-pro-high"].model_provider == "google"
    assert models["claude-sonnet-4-5"].model_provider == "anthropic"
    assert models["gpt-oss-120b-medium"].model_provider == "openai"
    # No remainingFraction: unknown, never 0 and never 1.
    assert models["claude-opus-4-5-thinking"].remaining_fraction is None
    assert models["claude-opus-4-5-thinking"].reset_time == parse_rfc3339("2026-11-28T20:05:00Z")


def test_reset_time_with_fractional_seconds() -> None:
    models = {m.model: m for m in parse_models(body("fetchAvailableModels.paid.json"))}
    assert models["gemini-3-flash"].reset_time == pytest.approx(
        parse_rfc3339("2026-11-28T22:10:00Z") + 0.123456
    )
    assert models["gemini-3-flash"].remaining_fraction == 1.0


def test_summary_pools_are_slugged_and_windows_kept() -> None:
    pools = {(p.pool, p.window): p for p in parse_summary(body("retrieveUserQuotaSummary.json"))}
    assert set(pools) == {
        ("gemini", "5h"), ("gemini", "weekly"), ("claude-gpt", "5h"), ("claude-gpt", "weekly")
    }
    assert pools[("gemini", "5h")].remaining_fraction == 0.64
    assert pools[("claude-gpt", "5h")].remaining_fraction == 0.0
    assert pools[("claude-gpt", "weekly")].pool_name == "Claude and GPT models"
    assert pools[("gemini", "weekly")].reset_time == parse_rfc3339("2026-12-02T00:00:00Z")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Gemini Models", "gemini"),
        ("Claude and GPT models", "claude-gpt"),
        ("  Claude & GPT Models ", "claude-gpt"),
        ("Models", "models"),
        ("Gemini 3 Pro", "gemini-3-pro"),
    ],
)
def test_pool_slug_is_stable(name: str, slug: str) -> None:
    assert pool_slug(name) == slug


def test_disabled_bucket_is_not_a_quota() -> None:
    doc = {"groups": [{"displayName": "Gemini Models", "buckets": [
        {"bucketId": "gemini-5h", "window": "5h", "remainingFraction": 0.5, "disabled": True},
        {"bucketId": "gemini-weekly", "window": "weekly", "remainingFraction": 0.9},
    ]}]}
    assert [(p.pool, p.window) for p in parse_summary(doc)] == [("gemini", "weekly")]


def test_window_falls_back_to_bucket_id_suffix() -> None:
    doc = {"groups": [{"displayName": "Gemini Models", "buckets": [
        {"bucketId": "gemini-5h", "remainingFraction": 0.5},
    ]}]}
    assert parse_summary(doc)[0].window == "5h"


def test_duplicate_pool_window_keeps_first_so_series_stay_unique() -> None:
    doc = {"groups": [
        {"displayName": "Gemini Models", "buckets": [{"window": "5h", "remainingFraction": 0.5}]},
        {"displayName": "Gemini models", "buckets": [{"window": "5h", "remainingFraction": 0.1}]},
    ]}
    pools = parse_summary(doc)
    assert len(pools) == 1 and pools[0].remaining_fraction == 0.5


def test_numeric_strings_are_accepted_for_fractions() -> None:
    doc = {"models": {"m": {"quotaInfo": {"remainingFraction": "0.25"}}}}
    assert parse_models(doc)[0].remaining_fraction == 0.25


def test_extra_keys_are_ignored() -> None:
    doc = {"models": {"m": {"quotaInfo": {"remainingFraction": 1, "newField": {"x": 1}},
                            "surprise": [1, 2]}}, "more": True}
    assert parse_models(doc)[0].remaining_fraction == 1.0


def test_empty_display_name_falls_back_to_model_id() -> None:
    doc = {"models": {"tab_x": {"displayName": "", "quotaInfo": {"remainingFraction": 0.3}}}}
    assert parse_models(doc)[0].display_name == "tab_x"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"models": []}, "models"),
        ({"models": {"m": {"quotaInfo": {"remainingFraction": "lots"}}}}, "remainingFraction"),
        ({"models": {"m": {"quotaInfo": {"remainingFraction": 1.5}}}}, "outside 0..1"),
        ({"models": {"m": {"quotaInfo": {"remainingFraction": True}}}}, "boolean"),
        ({"models": {"m": {"quotaInfo": {"resetTime": "tomorrow"}}}}, "resetTime"),
        ({"models": {"m": {"quotaInfo": []}}}, "quotaInfo"),
        ({"models": {"m": {"displayName": 7, "quotaInfo": {}}}}, "displayName"),
    ],
)
def test_wrong_shapes_raise_parse_error_naming_the_field(doc: Any, field: str) -> None:
    with pytest.raises(ParseError, match=field):
        parse_models(doc)


def test_summary_wrong_shapes_raise_parse_error() -> None:
    with pytest.raises(ParseError, match="groups"):
        parse_summary({"groups": {"a": 1}})
    with pytest.raises(ParseError, match="buckets"):
        parse_summary({"groups": [{"displayName": "G", "buckets": "x"}]})


def test_missing_models_or_groups_is_empty_not_an_error() -> None:
    assert parse_models({}) == ()
    assert parse_summary({}) == ()


def test_429_error_body_gives_retry_delay_and_reason() -> None:
    info = parse_error(body("error.429.json"))
    assert info.status == "RESOURCE_EXHAUSTED"
    assert info.reasons == ("RATE_LIMIT_EXCEEDED",)
    assert info.retry_delay == pytest.approx(3.2)


def test_403_license_error_message() -> None:
    info = parse_error(body("error.403.json"))
    assert info.status == "PERMISSION_DENIED"
    assert "valid license" in info.message
    assert info.retry_delay is None


@pytest.mark.parametrize("doc", [None, "oops", [], {"error": "x"}, {"error": {"details": 3}}])
def test_error_parser_tolerates_any_shape(doc: Any) -> None:
    info = parse_error(doc)
    assert info.retry_delay is None and info.reasons == ()


def test_model_provider_slug() -> None:
    assert model_provider_slug("MODEL_PROVIDER_ANTHROPIC") == "anthropic"
    assert model_provider_slug(None) == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["models", "groups", "quotaInfo", "remainingFraction", "resetTime",
                         "buckets", "window", "displayName", "bucketId", "disabled",
                         "cloudaicompanionProject", "currentTier", "paidTier", "id", "name",
                         "error", "details", "retryDelay", "m"]),
        children,
        max_size=5,
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_yields_a_result_or_a_parse_error(doc: Any) -> None:
    for parse in (parse_models, parse_summary, parse_load_code_assist):
        with contextlib.suppress(ParseError):
            parse(doc)
    parse_error(doc)
