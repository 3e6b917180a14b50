"""`loadCodeAssist`: the Cloud Code project, tier and credits, shared by Antigravity and
Gemini CLI.

>>> info = parse_load_code_assist({"cloudaicompanionProject": "projects/p-1",
...     "currentTier": {"id": "standard-tier"}, "paidTier": {"id": "g1-pro-tier",
...     "name": "Google AI Pro", "availableCredits": [{"creditType": "GOOGLE_ONE_AI",
...     "creditAmount": "1000"}]}})
>>> info.project, info.tier, info.credits[0].remaining
('p-1', 'g1-pro-tier', 1000.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import ParseError, mapping, number, opt_str
from exporter.snapshot import Credit, FetchError, Reason

# What to do about an `ineligibleTiers` reason, by reasonCode.
_ADVICE = {
    "VALIDATION_REQUIRED": "sign in to Antigravity (or Gemini CLI) with this account once "
    "and complete the verification it asks for, then wait a few minutes",
    "UNSUPPORTED_CLIENT": "the upstream rejected this client version: set `user_agent` to "
    "the current client's (see docs/provider-guides.md)",
}
_DEFAULT_ADVICE = "sign in with this account once in the tool that owns it and follow its prompt"


@dataclass(frozen=True)
class Ineligible:
    code: str  # "VALIDATION_REQUIRED", "UNSUPPORTED_CLIENT", ...
    message: str  # upstream's own words; may be ""


@dataclass(frozen=True)
class ProjectInfo:
    project: str | None  # None: the account was never onboarded
    tier: str
    tier_name: str
    ineligible: tuple[Ineligible, ...] = ()
    credits: tuple[Credit, ...] = ()
    has_tier: bool = True  # False when upstream named neither currentTier nor paidTier

    @property
    def ineligible_reason(self) -> str:
        """Upstream's explanation, e.g. `VALIDATION_REQUIRED: Verify your account to continue.`"""
        return " ".join(
            f"{i.code}: {i.message}" if i.code and i.message else (i.code or i.message)
            for i in self.ineligible
        )

    def refusal(self, advice: Mapping[str, str] | None = None) -> FetchError | None:
        """The account error when upstream names no tier and says why (`currentTier:
        null` with `ineligibleTiers`): its reason, quoted, and what to do. `advice`
        (by reasonCode) is the calling provider's, before the shared one: the same
        code can mean another thing to another client."""
        if self.has_tier or not self.ineligible:
            return None
        codes = [i.code for i in self.ineligible if i.code]
        table = {**_ADVICE, **(advice or {})}
        what = next((table[c] for c in codes if c in table), _DEFAULT_ADVICE)
        return FetchError(
            Reason.FORBIDDEN,
            f"Cloud Code gives this account no tier ({self.ineligible_reason}): {what}",
        )


def _tier(obj: Any, where: str) -> tuple[str, str] | None:
    if obj is None:
        return None
    tier = mapping(obj, where)
    tier_id = opt_str(tier.get("id"), f"{where}.id")
    if not tier_id:
        return None
    return tier_id, opt_str(tier.get("name"), f"{where}.name") or ""


def _project(raw: Any) -> str | None:
    """Forms seen: `"id"`, `"projects/id"`, `{"id": ...}`, `{"projectId": ...}`; "" is none."""
    if isinstance(raw, dict):
        raw = raw.get("id", raw.get("projectId"))
    value = opt_str(raw, "cloudaicompanionProject")
    if not value or not value.strip():
        return None
    return value.strip().removeprefix("projects/") or None


def _credits(paid: Any) -> tuple[Credit, ...]:
    """`paidTier.availableCredits`; an entry without an amount invents no number."""
    raw = paid.get("availableCredits") if isinstance(paid, dict) else None
    out: list[Credit] = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or not isinstance(item.get("creditType"), str):
            continue
        try:
            amount = number(item.get("creditAmount"), f"availableCredits[{i}].creditAmount")
        except ParseError:
            continue
        if amount is not None:
            out.append(Credit(item["creditType"], amount))
    return tuple(out)


def _ineligible(raw: Any) -> tuple[Ineligible, ...]:
    out = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        code, message = item.get("reasonCode"), item.get("reasonMessage")
        code = code if isinstance(code, str) else ""
        message = message if isinstance(message, str) else ""
        if code or message:
            out.append(Ineligible(code, message[:200]))
    return tuple(out)


def parse_load_code_assist(body: Any) -> ProjectInfo:
    """loadCodeAssist -> project, tier and credits. Tier rule: paidTier.id, else currentTier.id."""
    doc = mapping(body, "loadCodeAssist")
    paid = doc.get("paidTier")
    tier = _tier(paid, "paidTier") or _tier(doc.get("currentTier"), "currentTier")
    tier_id, tier_name = tier or ("unknown", "")
    return ProjectInfo(
        project=_project(doc.get("cloudaicompanionProject")),
        tier=tier_id,
        tier_name=tier_name,
        ineligible=_ineligible(doc.get("ineligibleTiers")),
        credits=_credits(paid),
        has_tier=tier is not None,
    )
