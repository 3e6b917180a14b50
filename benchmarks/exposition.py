"""How long `collector.text` takes for many accounts, first render against repeat.

    python -m benchmarks.exposition --accounts 1000 --repeat 7

Builds a snapshot of N accounts (5 models and 4 pool windows each, like the test
accounts) and times, best of `--repeat`:

- first render: a fresh renderer, so every account's data lines are written;
- repeat render: the same renderer on a new snapshot whose accounts keep their
  `AccountData` objects (unchanged replies) while the health series change;
- prometheus_client: `generate_latest(registry_for(snapshot))`, for scale.

Nothing here is a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

from prometheus_client.exposition import generate_latest

from exporter import collector
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    Credit,
    ModelQuota,
    PoolQuota,
    Snapshot,
    SourceResult,
)

NOW = 1.8e9
SOURCES = (SourceResult("models"), SourceResult("summary"))


def account(i: int) -> AccountSnapshot:
    """One paid account; its numbers vary with `i` so no two accounts are alike."""
    f = (i % 97) / 97
    data = AccountData(
        info=AccountInfo(tier="g1-pro-tier", tier_name="Google AI Pro",
                         project=f"project-{i}", email=f"user{i}@example.com"),
        models=(
            ModelQuota("gemini-3-pro-high", "Gemini 3 Pro (High)", "google", f,
                       NOW + 3600 + i, pools=("gemini",)),
            ModelQuota("gemini-3-flash", "Gemini 3 Flash", "google", 1.0, NOW + 7200,
                       pools=("gemini",)),
            ModelQuota("claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic", 0.12,
                       NOW + 4500, pools=("claude-gpt",)),
            ModelQuota("claude-opus-4-5-thinking", "Claude Opus 4.5 (Thinking)", "anthropic",
                       None, NOW + 4500, pools=("claude-gpt",), omitted=True),
            ModelQuota("gpt-oss-120b-medium", "GPT-OSS 120B (Medium)", "openai", 0.05,
                       NOW + 4500, pools=("claude-gpt",)),
        ),
        pools=(
            PoolQuota("gemini", "Gemini Models", "5h", 0.91 * f, NOW + 7800, "gemini-5h"),
            PoolQuota("gemini", "Gemini Models", "weekly", 0.95, NOW + 277200, "gemini-weekly"),
            PoolQuota("claude-gpt", "Claude and GPT models", "5h", 0.0, NOW + 4500, "3p-5h"),
            PoolQuota("claude-gpt", "Claude and GPT models", "weekly", 0.22, NOW + 277200,
                      "3p-weekly"),
        ),
        credits=(Credit("GOOGLE_ONE_AI", 1000.0 + i),),
        sources=SOURCES,
        as_of=NOW,
    )
    return AccountSnapshot(
        provider="antigravity", account=f"account-{i:05d}", up=True, data=data, error=None,
        duration_seconds=0.4, fetched_at=NOW, last_success=NOW, errors_total={"timeout": i % 3},
        sources=SOURCES, min_interval=30.0,
    )


def rescraped(snapshot: Snapshot, n: int) -> Snapshot:
    """The next scrape: new health numbers, the same data objects."""
    return Snapshot(
        accounts=tuple(replace(a, duration_seconds=0.4 + n / 1000, fetched_at=NOW + n)
                       for a in snapshot.accounts),
        taken_at=NOW + n,
    )


def best(repeat: int, setup: Callable[[int], Callable[[], object]]) -> float:
    """Best wall time, in seconds, of `repeat` runs; `setup(n)` is not timed."""
    times = []
    for n in range(repeat):
        run = setup(n)
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    snap = Snapshot(accounts=tuple(account(i) for i in range(args.accounts)), taken_at=NOW)
    renderer_class = getattr(collector, "Renderer", None)

    def first(n: int) -> Callable[[], object]:
        if renderer_class is None:  # a tree before the renderer: every render is a first
            return lambda: collector.text(snap)
        return lambda: renderer_class().text(snap)

    def repeat(n: int) -> Callable[[], object]:
        if renderer_class is None:
            return lambda: collector.text(rescraped(snap, n))
        renderer = renderer_class()
        renderer.text(snap)
        again = rescraped(snap, n + 1)
        return lambda: renderer.text(again)

    body = collector.text(snap)
    print(f"{args.accounts} accounts, {len(body.splitlines())} lines, {len(body) / 1024:.0f} KiB")
    for name, setup in (("first render", first), ("repeat render (data reused)", repeat)):
        print(f"{name:32} {best(args.repeat, setup) * 1000:8.1f} ms")
    client = best(max(1, args.repeat // 3),
                  lambda n: lambda: generate_latest(collector.registry_for(snap)))
    print(f"{'prometheus_client':32} {client * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
