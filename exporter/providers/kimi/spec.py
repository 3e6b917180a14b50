"""What the rest of the exporter knows of this provider before any account uses it."""

from exporter.providers.base import API_KEY_KINDS
from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="kimi",
    sources=("usage",),
    endpoints=("https://api.kimi.com",),
    user_agent="llm-quota-exporter",
    credential_kinds=("file", "access_token", "access_token_file", *API_KEY_KINDS),
    headers={"Accept": "application/json"},
    summary="Kimi Code: the weekly quota and the 5-hour rate window",
)
