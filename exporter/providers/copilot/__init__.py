"""GitHub Copilot: premium requests, chat and completions quotas of the Copilot plan.

`client` makes the one call (`GET /copilot_internal/user`); `parse` turns the
plan's quota snapshots (or a free plan's older `limited_user_quotas`) into monthly
pools; `credentials` reads the editor's `apps.json`, read only.
"""

from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="copilot",
    sources=("usage",),
    endpoints=("https://api.github.com",),
    # What Copilot Chat in VS Code sends; GitHub answers 403 to a request without a
    # User-Agent. Newer versions: set `user_agent` and `headers` in the config.
    user_agent="GitHubCopilotChat/0.35.0",
    credential_kinds=("file", "access_token", "access_token_file"),
    factory="exporter.providers.copilot.client:CopilotProvider",
    headers={
        "Editor-Version": "vscode/1.107.0",
        "Editor-Plugin-Version": "copilot-chat/0.35.0",
        "X-Github-Api-Version": "2025-04-01",
    },
    summary="GitHub Copilot: premium requests, chat and completions, monthly",
)
