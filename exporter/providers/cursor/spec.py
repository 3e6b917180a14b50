"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="cursor",
    sources=("usage",),
    endpoints=("https://api2.cursor.sh",),
    user_agent="llm-quota-exporter (cursor)",
    credential_kinds=("file", "access_token", "access_token_file"),
    # Cursor's dashboard service speaks Connect RPC: a JSON POST carrying this header.
    headers={"Connect-Protocol-Version": "1"},
    summary="Cursor: included usage of the billing cycle (auto and API buckets), in dollars",
)
