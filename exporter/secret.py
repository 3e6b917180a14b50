"""Secrets and the OAuth client that carries one: values every floor may hold."""

from __future__ import annotations

from dataclasses import dataclass


class Secret:
    """A secret string that never prints itself.

    `str()`, `repr()` and f-strings all give `<secret>`; only `reveal()` gives
    the value, so a secret cannot slip into a log line or error by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: Secret | None = None  # from client_secret or client_secret_file
