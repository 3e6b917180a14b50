"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="kiro",
    sources=("usage",),
    endpoints=("https://codewhisperer.us-east-1.amazonaws.com",),
    user_agent="llm-quota-exporter",
    credential_kinds=("file", "access_token", "access_token_file"),
    headers={"Content-Type": "application/x-amz-json-1.0",
             "X-Amz-Target": "AmazonCodeWhispererService.GetUsageLimits"},
    summary="Kiro (AWS CodeWhisperer GetUsageLimits): monthly credits and overage",
)
