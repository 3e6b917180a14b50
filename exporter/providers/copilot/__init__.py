"""GitHub Copilot: premium requests, chat and completions quotas of the Copilot plan."""
