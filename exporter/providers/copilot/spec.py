"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="copilot",
    sources=("usage",),
    endpoints=("https://api.github.com",),
    # What Copilot Chat in VS Code sends; GitHub answers 403 to a request without a
    # User-Agent. Newer versions: set `user_agent` and `headers` in the config.
    user_agent="GitHubCopilotChat/0.35.0",
    credential_kinds=("file", "access_token", "access_token_file"),
    headers={
        "Editor-Version": "vscode/1.107.0",
        "Editor-Plugin-Version": "copilot-chat/0.35.0",
        "X-Github-Api-Version": "2025-04-01",
    },
    summary="GitHub Copilot: premium requests, chat and completions, monthly",
)
