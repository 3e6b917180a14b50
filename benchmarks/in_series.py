"""The exporter with an account's sources fetched one after the other, for comparison.

    python -m benchmarks.in_series --config.file x.yml --web.listen-address 127.0.0.1:0

The exporter has an account's calls in flight together (`UpstreamClient.call_many`:
one round trip). This runs the same exporter, in this process, with `call_many`
asking each call in turn, as it did before, so the
benchmark can measure both ways side by side. The switch lives here, not in the
exporter: production code has one way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from exporter.cli import main
from exporter.snapshot import FetchError, Reason
from exporter.upstream.client import Call, UpstreamClient

log = logging.getLogger(__name__)


async def call_in_series(
    client: UpstreamClient, calls: Sequence[Call], deadline: float
) -> list[Any]:
    """What `client.call_many` returns, each call asked once the one before it answered."""
    return [await _answer(client, c, deadline) for c in calls]


async def _answer(client: UpstreamClient, c: Call, deadline: float) -> Any:
    # As call_many: a FetchError is this call's answer, never the others'.
    try:
        return await client.call(c.name, c.path, deadline, body=c.body, method=c.method,
                                 parse=c.parse)
    except FetchError as exc:
        return exc
    except Exception as exc:
        log.error("unexpected error in an upstream call", exc_info=True,
                  extra={"kv": {"call": c.name}})
        return FetchError(Reason.INTERNAL, f"{c.name}: unexpected error ({type(exc).__name__})")


if __name__ == "__main__":
    UpstreamClient.call_many = call_in_series  # type: ignore[method-assign]
    raise SystemExit(main())
