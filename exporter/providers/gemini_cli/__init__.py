"""Gemini CLI: per-model daily quotas from Cloud Code's retrieveUserQuota."""
