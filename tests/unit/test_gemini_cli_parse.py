"""Gemini CLI's body parser (retrieveUserQuota): the example body, the shapes other
public tools have seen (tests/fixtures/upstream/peers) and odd shapes; and any JSON at
all, given to it and to Copilot's parser."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.providers.copilot.parse import parse_user
from exporter.providers.gemini_cli.parse import parse_quota
from exporter.providers.parsing import ParseError
from exporter.snapshot import ModelQuota
from exporter.timefmt import parse_rfc3339
from tests.unit.test_antigravity_parse import body, peer


def models_of(doc: Any) -> dict[str, ModelQuota]:
    return {m.model: m for m in parse_quota(doc).models}


def test_gemini_cli_example_body() -> None:
    models = models_of(body("geminicli.retrieveUserQuota.json"))
    reset = parse_rfc3339("2026-11-29T00:00:00Z")
    pro, flash, lite = (models[m] for m in ("gemini-2.5-pro", "gemini-2.5-flash",
                                            "gemini-2.5-flash-lite"))
    assert (pro.remaining_fraction, pro.remaining_requests, pro.reset_time) == (0.75, 75.0, reset)
    assert (flash.remaining_fraction, flash.remaining_requests) == (0.9333, 1400.0)
    # No fraction and no amount: unknown (not zero), and said so.
    assert (lite.remaining_fraction, lite.omitted, lite.remaining_requests) == (None, True, None)
    assert not pro.omitted and pro.model_provider == "google"
    assert pro.display_name == "gemini-2.5-pro" and pro.pools == ()


def test_gemini_cli_mixed_buckets() -> None:
    reply = parse_quota(peer("geminicli.mixed-buckets.json"))
    models = {m.model: m for m in reply.models}
    assert list(models) == sorted(models)
    # REQUESTS at 90% (180 left) and INPUT_TOKENS at 76%: one series, the lower one;
    # the count belongs to the other limit, so none is shown.
    preview = models["gemini-3-pro-preview"]
    assert (preview.remaining_fraction, preview.remaining_requests) == (0.76175, None)
    # remainingAmount is left out at 100%: no count, no zero.
    full = models["gemini-3.1-pro-preview"]
    assert (full.remaining_fraction, full.remaining_requests, full.omitted) == (1.0, None, False)
    # The same bucket twice is one series; resetTime null is no reset.
    flash = models["gemini-2.5-flash"]
    assert (flash.remaining_fraction, flash.remaining_requests, flash.reset_time) == (
        0.04, 40.0, None)
    assert models["gemini-2.5-pro"].remaining_fraction is None
    assert models["gemini-2.5-pro"].omitted
    assert reply.skipped == 1  # the bucket without modelId
    assert len(reply.models) == 4


def test_gemini_cli_integer_fractions_string_amounts_and_missing_fields() -> None:
    models = models_of(peer("geminicli.vertex-duplicates.json"))
    # `remainingFraction: 1` with no tokenType and no resetTime: full, no count (the
    # unit of the amount is unknown without a tokenType), no reset.
    flash = models["gemini-2.5-flash"]
    assert (flash.remaining_fraction, flash.remaining_requests, flash.reset_time) == (
        1.0, None, None)
    assert not flash.omitted
    # `remainingFraction: 0` sent as an integer is an explicit 0, with its count.
    preview = models["gemini-3-flash-preview"]
    assert (preview.remaining_fraction, preview.omitted, preview.remaining_requests) == (
        0.0, False, 0.0)


def test_gemini_cli_vertex_twins_are_one_model_under_the_plain_id_keeping_the_lower() -> None:
    reply = parse_quota(peer("geminicli.vertex-duplicates.json"))
    assert [m.model for m in reply.models] == [
        "gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3-pro-preview"]
    assert reply.skipped == 0
    # gemini-2.5-pro at 84.8% and its _vertex twin at 0: the lower number is kept.
    pro = next(m for m in reply.models if m.model == "gemini-2.5-pro")
    assert (pro.remaining_fraction, pro.remaining_requests, pro.display_name) == (
        0.0, 0.0, "gemini-2.5-pro")
    assert pro.reset_time == parse_rfc3339("2026-11-29T07:00:00Z")
    # A _vertex bucket without its plain twin is still shown under the plain id.
    alone = next(m for m in reply.models if m.model == "gemini-3-pro-preview")
    assert (alone.remaining_fraction, alone.remaining_requests) == (0.6, 120.0)
    # The suffix alone is no model id to strip.
    (odd,) = parse_quota({"buckets": [{"modelId": "_vertex", "remainingFraction": 1}]}).models
    assert odd.model == "_vertex"


def test_gemini_cli_ties_keep_the_later_reset_and_its_count() -> None:
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "OUTPUT_TOKENS", "remainingFraction": 0.5,
         "resetTime": "2026-11-29T00:00:00Z"},
        {"modelId": "m", "tokenType": "REQUESTS", "remainingFraction": 0.5,
         "remainingAmount": "10", "resetTime": "2026-11-30T00:00:00Z"}]})
    m = reply.models[0]
    assert (m.reset_time, m.remaining_requests) == (parse_rfc3339("2026-11-30T00:00:00Z"), 10.0)


def test_gemini_cli_an_amount_without_a_fraction_contradicts_itself_and_is_skipped() -> None:
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "REQUESTS", "remainingAmount": "5"},
        {"modelId": "n", "tokenType": "REQUESTS", "remainingAmount": "0"}]})
    assert [(m.model, m.remaining_fraction, m.remaining_requests) for m in reply.models] == [
        ("n", 0.0, 0.0)]
    assert reply.skipped == 1


def test_gemini_cli_token_amounts_are_not_request_counts() -> None:
    reply = parse_quota({"buckets": [{"modelId": "m", "tokenType": "INPUT_TOKENS",
                                      "remainingAmount": "900000", "remainingFraction": 0.9}]})
    assert reply.models[0].remaining_requests is None


@pytest.mark.parametrize("bad", [
    "junk", None, [], {"modelId": ""}, {"modelId": 7}, {"modelId": "m", "remainingFraction": -1},
    {"modelId": "m", "remainingFraction": "lots"}, {"modelId": "m", "resetTime": "tomorrow"},
    {"modelId": "m", "remainingFraction": 0.5, "remainingAmount": "-3"},
    {"modelId": "m", "remainingFraction": 0.5, "tokenType": 3},
])
def test_gemini_cli_one_malformed_bucket_is_skipped_and_counted(bad: Any) -> None:
    reply = parse_quota({"buckets": [bad, {"modelId": "ok", "remainingFraction": 0.5}]})
    assert [m.model for m in reply.models] == ["ok"] and reply.skipped == 1


def test_gemini_cli_fractions_above_one_are_clamped_and_strings_accepted() -> None:
    models = models_of({"buckets": [{"modelId": "m", "remainingFraction": "1.2",
                                     "remainingAmount": " 12 ", "tokenType": "requests"}]})
    assert (models["m"].remaining_fraction, models["m"].remaining_requests) == (1.0, 12.0)


def test_gemini_cli_reply_shapes() -> None:
    assert parse_quota({}).models == ()
    assert parse_quota({"buckets": None}).models == ()
    with pytest.raises(ParseError, match="buckets: expected a list"):
        parse_quota({"buckets": {"modelId": "m"}})
    with pytest.raises(ParseError, match="retrieveUserQuota"):
        parse_quota("not json object")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["buckets", "quotaBuckets", "modelId", "tokenType", "remainingAmount",
                         "remainingFraction", "resetTime", "copilot_plan", "access_type_sku",
                         "quota_snapshots", "premium_interactions", "chat", "entitlement",
                         "remaining", "percent_remaining", "unlimited", "limited_user_quotas",
                         "monthly_quotas", "quota_reset_date", "m"]),
        children,
        max_size=5,
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_yields_a_result_or_a_parse_error(doc: Any) -> None:
    for parse in (parse_user, parse_quota):
        with contextlib.suppress(ParseError):
            result = parse(doc)
            fractions = [getattr(q, "remaining_fraction", None)
                         for q in (*getattr(result, "pools", ()), *getattr(result, "models", ()))]
            assert all(f is None or 0.0 <= f <= 1.0 for f in fractions)


def test_gemini_cli_an_omitted_fraction_with_an_amount_of_zero_is_used_up() -> None:
    """remainingAmount "0" is a number from upstream: the evidence that makes it 0."""
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "REQUESTS", "remainingAmount": "0",
         "resetTime": "2026-11-29T00:00:00Z"}]})
    (m,) = reply.models
    assert (m.remaining_fraction, m.omitted, m.remaining_requests) == (0.0, False, 0.0)


def test_gemini_cli_a_known_bucket_wins_over_an_omitted_one() -> None:
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "INPUT_TOKENS", "resetTime": "2026-11-29T00:00:00Z"},
        {"modelId": "m", "tokenType": "REQUESTS", "remainingFraction": 0.4,
         "resetTime": "2026-11-29T00:00:00Z"}]})
    (m,) = reply.models
    assert (m.remaining_fraction, m.omitted) == (0.4, False)
