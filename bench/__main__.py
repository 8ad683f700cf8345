"""``python -m bench [NAME] [options]``: run one registered benchmark, or all of them (``make bench``)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

BENCHMARKS: dict[str, str] = {
    "webhook_ingest": "bench.webhook_ingest",
    "contacts_search": "bench.contacts_search",
    "contacts_import": "bench.contacts_import",
    "campaign_dispatch": "bench.campaign_dispatch",
    "campaign_closed_loop": "bench.campaign_closed_loop",
    "rest_reads": "bench.rest_reads",
    "login_storm": "bench.login_storm",
    "events_stream": "bench.events_stream",
}


def _main(name: str) -> Callable[[list[str] | None], Any]:
    module = importlib.import_module(BENCHMARKS[name])
    entry: Callable[[list[str] | None], Any] = module.main
    return entry


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks: " + ", ".join(BENCHMARKS))
        return 0
    if argv and not argv[0].startswith("-"):
        name = argv[0]
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        _main(name)(argv[1:])
        return 0
    for name in BENCHMARKS:  # all of them, with the same options
        print(f"== {name}", flush=True)
        _main(name)(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
