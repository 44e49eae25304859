"""API keys: scoped, stored hashed, shown once."""

from leadgate.keys.models import ApiKey
from leadgate.keys.service import SCOPES, Scope, authenticate, create_key, list_keys, revoke_key

__all__ = ["SCOPES", "ApiKey", "Scope", "authenticate", "create_key", "list_keys", "revoke_key"]
