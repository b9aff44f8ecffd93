"""``python -m bench run [--size small|full] [--only NAME...]``: run, record, report."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import sys
import time
from pathlib import Path

from bench import common, report
from bench.sizes import SIZES

log = logging.getLogger("bench")


def registry() -> dict[str, object]:
    from bench import fanout, inbox, peer, processing, reads, scale, search

    return {
        "inbox": inbox.run,
        "processing": processing.run,
        "fanout": fanout.run,
        "reads": reads.run,
        "search": search.run,
        "memory": inbox.memory,
        "scale": scale.run,
        "peer": peer.run,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run benchmarks, write JSON and the docs page")
    run.add_argument("--size", choices=sorted(SIZES), default="small")
    run.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    run.add_argument("--results", type=Path, default=common.ROOT / "bench" / "results",
                     help="directory for the JSON results")
    run.add_argument("--docs", type=Path, default=common.ROOT / "docs",
                     help="directory for benchmarks.md and its plots")
    run.add_argument("--peer", choices=("auto", "build", "skip"), default="auto",
                     help="bovine-herd: auto runs it (building its environment) at full "
                     "size only; build runs it at any size")
    commands.add_parser("report", help="regenerate the docs page from the stored JSON")
    return parser


async def run_all(args: argparse.Namespace) -> int:
    size = SIZES[args.size]
    benchmarks = registry()
    names = args.only or list(benchmarks)
    unknown = [name for name in names if name not in benchmarks]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(benchmarks)}",
              file=sys.stderr)
        return 2
    args.results.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name in names:
        command = f"python -m bench run --size {size.name} --only {name}"
        began = time.monotonic()
        print(f"bench: {name} ({size.name}) ...", flush=True)
        try:
            if name == "peer":
                result = await benchmarks[name](size, command, args.peer)  # type: ignore[operator]
            else:
                result = await benchmarks[name](size, command)  # type: ignore[operator]
        except Exception as error:  # noqa: BLE001 - recorded, the other benchmarks go on
            log.exception("benchmark %s failed", name)
            result = common.Result(name, name, size.name, command)
            result.notes.append(f"failed: {error!r}"[:2000])
            failures += 1
        document = result.as_dict()
        document["full_command"] = "python -m bench run " + shlex.join(sys.argv[2:])
        (args.results / f"{name}.json").write_text(json.dumps(document, indent=1))
        print(f"bench: {name} done in {time.monotonic() - began:.1f} s", flush=True)
    report.write(args.results, args.docs)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "report":
        report.write(common.ROOT / "bench" / "results", common.ROOT / "docs")
        return 0
    return asyncio.run(run_all(args))


if __name__ == "__main__":
    sys.exit(main())
