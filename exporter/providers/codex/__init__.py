"""Codex (ChatGPT plans): the 5-hour and weekly limits from ChatGPT's usage endpoint."""
