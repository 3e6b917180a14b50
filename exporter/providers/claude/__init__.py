"""Claude Code: the plan's 5-hour and weekly limits from Anthropic's OAuth usage endpoint."""
