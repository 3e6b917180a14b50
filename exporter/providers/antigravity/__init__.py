"""Google Antigravity: per-model quotas and the 5-hour / weekly pools of Cloud Code.

`client` makes the calls (loadCodeAssist cached, fetchAvailableModels,
retrieveUserQuotaSummary); `parse` turns their JSON into Snapshot parts.
"""
