"""`loadCodeAssist`: the Cloud Code project and tier, shared by Antigravity and Gemini CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import mapping, opt_str


@dataclass(frozen=True)
class ProjectInfo:
    project: str | None  # None: the account was never onboarded
    tier: str
    tier_name: str
    ineligible_reason: str = ""  # upstream's explanation when there is no project


def _tier(obj: Any, where: str) -> tuple[str, str] | None:
    if obj is None:
        return None
    tier = mapping(obj, where)
    tier_id = opt_str(tier.get("id"), f"{where}.id")
    if not tier_id:
        return None
    return tier_id, opt_str(tier.get("name"), f"{where}.name") or ""


def parse_load_code_assist(body: Any) -> ProjectInfo:
    """loadCodeAssist -> project and tier. Tier rule: paidTier.id, else currentTier.id."""
    doc = mapping(body, "loadCodeAssist")
    raw_project = doc.get("cloudaicompanionProject")
    project: str | None
    if isinstance(raw_project, dict):
        project = opt_str(raw_project.get("id"), "cloudaicompanionProject.id")
    else:
        project = opt_str(raw_project, "cloudaicompanionProject")
    tier = _tier(doc.get("paidTier"), "paidTier") or _tier(doc.get("currentTier"), "currentTier")
    tier_id, tier_name = tier or ("unknown", "")
    reasons = []
    ineligible = doc.get("ineligibleTiers")
    if isinstance(ineligible, list):
        for item in ineligible:
            if isinstance(item, dict) and isinstance(item.get("reasonMessage"), str):
                reasons.append(item["reasonMessage"])
    return ProjectInfo(
        project=project or None,
        tier=tier_id,
        tier_name=tier_name,
        ineligible_reason=" ".join(reasons),
    )


