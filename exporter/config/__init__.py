"""Config: YAML -> validated, typed `Config`. Every error names its key path.

Config knows no provider: the loader is handed their specs (`ProviderFacts`).
"""

from exporter.config.loader import (
    ACCOUNT_KEYS,
    CREDENTIAL_KEYS,
    OAUTH_CLIENT_KEYS,
    SHARED_KEYS,
    TOP_KEYS,
    load_config,
    parse_account,
    parse_config,
)
from exporter.config.model import (
    AccountConfig,
    Config,
    ConfigError,
    CredentialKind,
    Credentials,
    OAuthClient,
    ProviderFacts,
    Secret,
)

__all__ = [
    "ACCOUNT_KEYS", "CREDENTIAL_KEYS", "OAUTH_CLIENT_KEYS", "SHARED_KEYS",
    "TOP_KEYS",
    "AccountConfig", "Config", "ConfigError", "CredentialKind", "Credentials", "OAuthClient",
    "ProviderFacts",
    "Secret", "load_config", "parse_account", "parse_config",
]
