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
    pools_for,
    window_slug,
    with_pools,
)
from exporter.providers.google.codeassist import parse_load_code_assist
from exporter.providers.google.errors import parse_error
from exporter.providers.parsing import ParseError
from exporter.snapshot import Credit, ModelQuota, PoolQuota, Reason
from exporter.timefmt import parse_rfc3339

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


PEERS = FIXTURES / "peers"


def peer(name: str) -> Any:
    return json.loads((PEERS / name).read_text())


def models_of(doc: Any) -> dict[str, ModelQuota]:
    return {m.model: m for m in parse_models(doc).models}


def pools_of(doc: Any) -> dict[tuple[str, str], PoolQuota]:
    return {(p.pool, p.window): p for p in parse_summary(doc).pools}


# -- loadCodeAssist ---------------------------------------------------------------


def test_paid_tier_comes_from_paid_tier_over_current_tier() -> None:
    info = parse_load_code_assist(body("loadCodeAssist.paid.json"))
    assert info.project == "bright-harbor-x4k2p"
    assert (info.tier, info.tier_name) == ("g1-pro-tier", "Google AI Pro")
    assert info.credits == () and info.refusal() is None


def test_free_tier_project_given_as_object_with_id() -> None:
    info = parse_load_code_assist(body("loadCodeAssist.free.json"))
    assert info.project == "quiet-meadow-7b1qz"
    assert info.tier == "free-tier"
    assert info.tier_name == "Gemini Code Assist for individuals"


def test_credits_come_from_paid_tier_available_credits() -> None:
    info = parse_load_code_assist(body("loadCodeAssist.paid-credits.json"))
    assert info.tier == "g1-ultra-tier"
    assert info.credits == (Credit("GOOGLE_ONE_AI", 25000.0),)
    assert parse_load_code_assist(peer("loadCodeAssist.antigravity.json")).credits == (
        Credit("GOOGLE_ONE_AI", 1000.0),
    )


def test_a_credit_without_an_amount_invents_no_number() -> None:
    info = parse_load_code_assist(peer("loadCodeAssist.credits-no-amount.json"))
    assert info.credits == ()
    # `projects/<id>` is the id.
    assert info.project == "cloudaicompanion-abc123"
    assert info.tier == "g1-ultra-lite-tier"


def test_no_tier_with_a_reason_is_an_account_error_quoting_it() -> None:
    info = parse_load_code_assist(body("loadCodeAssist.not-onboarded.json"))
    assert info.project is None and info.tier == "unknown"
    refusal = info.refusal()
    assert refusal is not None and refusal.reason is Reason.FORBIDDEN
    assert "VALIDATION_REQUIRED: Verify your account to continue." in refusal.message
    assert "verification" in refusal.message


def test_unsupported_client_says_to_set_the_user_agent() -> None:
    refusal = parse_load_code_assist(peer("loadCodeAssist.unsupported-client.json")).refusal()
    assert refusal is not None
    assert "UNSUPPORTED_CLIENT" in refusal.message and "user_agent" in refusal.message


@pytest.mark.parametrize(
    ("raw", "project"),
    [("p-1", "p-1"), ("projects/p-1", "p-1"), ({"id": "p-2"}, "p-2"),
     ({"projectId": "p-3"}, "p-3"), ("", None), ("  ", None), (None, None)],
)
def test_project_forms(raw: Any, project: str | None) -> None:
    assert parse_load_code_assist({"cloudaicompanionProject": raw}).project == project


# -- fetchAvailableModels --------------------------------------------------------


def test_models_skip_internal_entries() -> None:
    models = models_of(body("fetchAvailableModels.paid.json"))
    assert set(models) == {
        "gemini-3-pro-high", "gemini-3-flash", "claude-sonnet-4-5",
        "claude-opus-4-5-thinking", "gpt-oss-120b-medium",
    }
    assert models["gemini-3-pro-high"].remaining_fraction == pytest.approx(0.7829875)
    assert models["gemini-3-pro-high"].display_name == "Gemini 3 Pro (High)"
    assert models["gemini-3-pro-high"].model_provider == "google"
    assert models["claude-sonnet-4-5"].model_provider == "anthropic"
    assert models["gpt-oss-120b-medium"].model_provider == "openai"


def test_a_quota_without_its_fraction_is_unknown_not_zero() -> None:
    """quotaInfo with a resetTime but no fraction: no number is invented; the entry is
    marked omitted and keeps its reset time (exporter.quota resolves it)."""
    model = models_of(body("fetchAvailableModels.paid.json"))["claude-opus-4-5-thinking"]
    assert model.remaining_fraction is None and model.omitted
    assert model.reset_time == parse_rfc3339("2026-11-28T20:05:00Z")
    empty = models_of(peer("models.renamed.json"))["claude-opus-4-6-thinking"]
    assert (empty.remaining_fraction, empty.omitted, empty.reset_time) == (None, True, None)


def test_an_explicit_zero_is_a_number_not_omitted() -> None:
    doc = {"models": {"m": {"quotaInfo": {"remainingFraction": 0, "resetTime": ""}}}}
    model = models_of(doc)["m"]
    assert (model.remaining_fraction, model.omitted) == (0.0, False)


def test_an_explicit_fraction_is_not_marked_omitted() -> None:
    models = models_of(body("fetchAvailableModels.paid.json"))
    assert not models["gemini-3-flash"].omitted
    assert models["gemini-3-flash"].remaining_fraction == 1.0


def test_reset_time_with_fractional_seconds() -> None:
    models = models_of(body("fetchAvailableModels.paid.json"))
    assert models["gemini-3-flash"].reset_time == pytest.approx(
        parse_rfc3339("2026-11-28T22:10:00Z") + 0.123456
    )


def test_renamed_models_are_shown_once_under_their_new_id() -> None:
    models = models_of(peer("models.renamed.json"))
    # Old id beside its successor: dropped. Old id whose successor is missing: renamed.
    assert "gemini-3.1-pro-high" not in models and "gemini-pro-agent" in models
    assert "gemini-3-flash-agent" not in models
    assert models["gemini-3.5-flash-high"].remaining_fraction == 0.25
    assert models["gemini-3.5-flash-high"].display_name == "Gemini 3.5 Flash (High)"
    # `{}`: no successor, the old id keeps its live quota.
    assert "claude-opus-4-6-thinking" in models
    # Entries without quotaInfo are not quotas (and not malformed).
    assert {"gpt-oss-120b-medium", "chat_23310", "tab_jump_flash_lite_preview"}.isdisjoint(models)
    assert parse_models(peer("models.renamed.json")).skipped == 0


def test_the_upstream_fixture_rename_drops_the_old_id() -> None:
    doc = body("fetchAvailableModels.paid.json")
    doc["models"]["gemini-3-pro-low"] = {"displayName": "Gemini 3 Pro (Low)",
                                         "quotaInfo": {"remainingFraction": 0.5}}
    assert "gemini-3-pro-low" not in models_of(doc)


def test_models_in_a_response_envelope_and_deprecated_ids_as_a_list() -> None:
    models = models_of(peer("models.envelope.json"))
    assert models["gemini-3.5-flash-low"].remaining_fraction == 0.9
    assert models["claude-sonnet-4-6"].omitted


def test_numeric_strings_are_accepted_and_above_one_is_clamped() -> None:
    assert models_of({"models": {"m": {"quotaInfo": {"remainingFraction": "0.25"}}}})[
        "m"].remaining_fraction == 0.25
    assert models_of({"models": {"m": {"quotaInfo": {"remainingFraction": 1.5}}}})[
        "m"].remaining_fraction == 1.0


def test_extra_keys_are_ignored() -> None:
    doc = {"models": {"m": {"quotaInfo": {"remainingFraction": 1, "newField": {"x": 1}},
                            "surprise": [1, 2]}}, "more": True}
    assert models_of(doc)["m"].remaining_fraction == 1.0


def test_empty_display_name_falls_back_to_model_id() -> None:
    doc = {"models": {"tab_x": {"displayName": "", "quotaInfo": {"remainingFraction": 0.3}}}}
    assert models_of(doc)["tab_x"].display_name == "tab_x"


@pytest.mark.parametrize(
    "entry",
    [
        {"quotaInfo": {"remainingFraction": "lots"}},
        {"quotaInfo": {"remainingFraction": -0.5}},
        {"quotaInfo": {"remainingFraction": True}},
        {"quotaInfo": {"resetTime": "tomorrow"}},
        {"quotaInfo": []},
        {"displayName": 7, "quotaInfo": {}},
        "not an object",
    ],
)
def test_one_malformed_model_is_skipped_and_counted_not_the_reply(entry: Any) -> None:
    doc = {"models": {"bad": entry, "good": {"quotaInfo": {"remainingFraction": 0.4}}}}
    reply = parse_models(doc)
    assert [m.model for m in reply.models] == ["good"]
    assert reply.skipped == 1


def test_a_reply_of_the_wrong_shape_raises_parse_error_naming_the_field() -> None:
    with pytest.raises(ParseError, match="models"):
        parse_models({"models": []})
    with pytest.raises(ParseError, match="fetchAvailableModels"):
        parse_models(["models"])


# -- retrieveUserQuotaSummary ----------------------------------------------------


def test_summary_pools_are_slugged_and_windows_kept() -> None:
    pools = pools_of(body("retrieveUserQuotaSummary.json"))
    assert set(pools) == {
        ("gemini", "5h"), ("gemini", "weekly"), ("claude-gpt", "5h"), ("claude-gpt", "weekly")
    }
    assert pools[("gemini", "5h")].remaining_fraction == 0.64
    assert pools[("claude-gpt", "5h")].remaining_fraction == 0.0
    assert not pools[("claude-gpt", "5h")].omitted
    assert pools[("claude-gpt", "weekly")].pool_name == "Claude and GPT models"
    assert pools[("gemini", "weekly")].reset_time == parse_rfc3339("2026-12-02T00:00:00Z")


def test_summary_with_live_display_names() -> None:
    pools = pools_of(peer("summary.live-names.json"))
    assert pools[("gemini", "5h")].remaining_fraction == 0.42
    assert pools[("claude-gpt", "5h")].remaining_fraction == 0.0
    assert pools[("claude-gpt", "weekly")].remaining_fraction == pytest.approx(0.31852826)


def test_summary_envelope_and_remaining_forms() -> None:
    reply = parse_summary(peer("summary.local-envelope.json"))
    pools = {(p.pool, p.window): p for p in reply.pools}
    assert pools[("gemini", "weekly")].remaining_fraction == 0.82
    assert pools[("gemini", "5h")].remaining_fraction == 0.5
    # A bucket entry without a fraction is kept as omitted (no number invented);
    # a disabled bucket is not a quota.
    assert pools[("claude-gpt", "weekly")].remaining_fraction is None
    assert pools[("claude-gpt", "weekly")].omitted
    assert ("claude-gpt", "5h") not in pools
    assert reply.skipped == 0


def test_quota_summary_envelope() -> None:
    doc = {"quotaSummary": body("retrieveUserQuotaSummary.json")}
    assert len(parse_summary(doc).pools) == 4


def test_sparse_summary_names_pools_from_bucket_ids() -> None:
    pools = pools_of(peer("summary.sparse.json"))
    assert pools[("gemini", "5h")].reset_time is None
    # A group without a displayName: its pool comes from the `3p-` bucket id.
    assert pools[("claude-gpt", "weekly")].remaining_fraction == 0.6


def test_an_unnamed_group_names_each_buckets_pool_from_its_own_id() -> None:
    """One group without a display name holding both pools' buckets: a Gemini bucket
    is never labelled claude-gpt because a 3p bucket came first."""
    reply = parse_summary({"groups": [{"buckets": [
        {"bucketId": "3p-5h", "remainingFraction": 0.2, "resetTime": "2026-11-28T21:00:00Z"},
        {"bucketId": "gemini-5h", "remainingFraction": 0.8},
        {"bucketId": "gemini-weekly", "remainingFraction": 0.6},
        {"remainingFraction": 0.4},
    ]}]})
    pools = {(p.pool, p.window): p.remaining_fraction for p in reply.pools}
    assert pools == {("claude-gpt", "5h"): 0.2, ("gemini", "5h"): 0.8,
                     ("gemini", "weekly"): 0.6}
    assert reply.skipped == 1  # the bucket with no id cannot be named
    gemini = ModelQuota("gemini-3-flash", "Gemini 3 Flash", "google", 1.0, None)
    claude = ModelQuota("claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic", 1.0, None)
    assert pools_for(gemini, reply.groups) == ("gemini",)
    assert pools_for(claude, reply.groups) == ("claude-gpt",)


def test_a_second_bucket_for_one_window_becomes_its_own_pool() -> None:
    pools = pools_of(peer("summary.image-bucket.json"))
    assert pools[("gemini", "5h")].remaining_fraction == 0.7
    assert pools[("gemini-image", "5h")].remaining_fraction == 0.2
    assert ("gemini", "weekly") in pools


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


@pytest.mark.parametrize(
    ("text", "window"),
    [("5h", "5h"), ("weekly", "weekly"), ("Five Hour Limit Remaining", "5h"),
     ("Weekly Limit Remaining", "weekly"), ("gemini-5h", "5h"), ("3p-weekly", "weekly"),
     ("Daily", "daily"), ("12h", "12h"), ("nothing", "")],
)
def test_window_slug(text: str, window: str) -> None:
    assert window_slug(text) == window


def test_disabled_bucket_is_not_a_quota() -> None:
    doc = {"groups": [{"displayName": "Gemini Models", "buckets": [
        {"bucketId": "gemini-5h", "window": "5h", "remainingFraction": 0.5, "disabled": True},
        {"bucketId": "gemini-weekly", "window": "weekly", "remainingFraction": 0.9},
    ]}]}
    assert list(pools_of(doc)) == [("gemini", "weekly")]


def test_window_falls_back_to_bucket_id_suffix() -> None:
    doc = {"groups": [{"displayName": "Gemini Models", "buckets": [
        {"bucketId": "gemini-5h", "remainingFraction": 0.5},
    ]}]}
    assert list(pools_of(doc)) == [("gemini", "5h")]


def test_duplicate_pool_window_without_a_distinct_id_is_skipped_and_counted() -> None:
    doc = {"groups": [
        {"displayName": "Gemini Models", "buckets": [{"window": "5h", "remainingFraction": 0.5}]},
        {"displayName": "Gemini models", "buckets": [{"window": "5h", "remainingFraction": 0.1}]},
    ]}
    reply = parse_summary(doc)
    assert [p.remaining_fraction for p in reply.pools] == [0.5]
    assert reply.skipped == 1


@pytest.mark.parametrize(
    "bad",
    ["junk", 7, None, {"bucketId": "x"}, {"window": "5h", "remainingFraction": "lots"}],
)
def test_junk_buckets_are_skipped_and_counted(bad: Any) -> None:
    doc = {"groups": [{"displayName": "Gemini Models", "buckets": [
        bad, {"bucketId": "gemini-weekly", "window": "weekly", "remainingFraction": 0.9}]}]}
    reply = parse_summary(doc)
    assert [(p.pool, p.window) for p in reply.pools] == [("gemini", "weekly")]
    assert reply.skipped == 1


def test_a_junk_group_is_skipped_and_counted() -> None:
    doc = {"groups": ["junk", {"displayName": "G", "buckets": "x"},
                      *body("retrieveUserQuotaSummary.json")["groups"]]}
    reply = parse_summary(doc)
    assert len(reply.pools) == 4 and reply.skipped == 2


def test_summary_of_the_wrong_shape_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="groups"):
        parse_summary({"groups": {"a": 1}})


def test_missing_models_or_groups_is_empty_not_an_error() -> None:
    assert parse_models({}).models == ()
    assert parse_summary({}).pools == ()


# -- which pool a model draws on ------------------------------------------------


def test_models_map_to_the_pools_their_group_descriptions_list() -> None:
    groups = parse_summary(body("retrieveUserQuotaSummary.json")).groups
    models = {m.model: m for m in with_pools(
        parse_models(body("fetchAvailableModels.paid.json")).models, groups)}
    assert models["gemini-3-pro-high"].pools == ("gemini",)
    assert models["gemini-3-flash"].pools == ("gemini",)
    assert models["claude-sonnet-4-5"].pools == ("claude-gpt",)
    assert models["claude-opus-4-5-thinking"].pools == ("claude-gpt",)
    assert models["gpt-oss-120b-medium"].pools == ("claude-gpt",)


def test_model_provider_maps_a_model_the_description_does_not_name() -> None:
    groups = parse_summary(peer("summary.sparse.json")).groups  # no descriptions at all
    claude = ModelQuota("claude-x", "Claude X", "anthropic", 1.0, None)
    gemini = ModelQuota("g", "Gemini 9 Ultra", "google", 1.0, None)
    unknown = ModelQuota("m", "Mystery", "", 1.0, None)
    assert pools_for(claude, groups) == ("claude-gpt",)
    assert pools_for(gemini, groups) == ("gemini",)
    assert pools_for(unknown, groups) == ()


# -- errors --------------------------------------------------------------------


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
