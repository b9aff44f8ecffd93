"""Time federation.sanitize on hostile HTML, now and at an earlier revision.

Usage: ``python -m bench.sanitize_hostile [--before REV] [--sizes 12000,60000]``.
Each input is a pattern repeated to the given length. ``--before`` loads
``federation/sanitize.py`` as it was at REV (``git show``) and times it on the
same inputs, skipping sizes that would run longer than ``--budget`` seconds by
the quadratic growth seen at the smaller sizes. The last line reports how long
the event loop went without running a callback while ``sanitize_html_async``
cleaned the longest ordinary document.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from federation import sanitize

PATTERNS = {
    "<p><b>": "<p><b>",
    "<b>x": "<b>x",
    "<b>x</p>": "<b>x</p>",
    "<ol><li>": "<ol><li>",
    "many attributes": '<a href="https://a.example/" title="t" ',
    "ordinary paragraphs": '<p>Plan <em>step</em> <a href="https://a.example/">link</a></p>',
}


def _module_at(revision: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:federation/sanitize.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "sanitize_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("sanitize_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seconds(clean: Callable[[str], str], text: str) -> float:
    started = time.perf_counter()
    clean(text)
    return time.perf_counter() - started


def _input(pattern: str, size: int) -> str:
    return (pattern * (size // len(pattern) + 1))[:size]


async def _loop_stall(text: str) -> float:
    """Return the longest gap between ticks of a 1 ms timer while ``text`` is cleaned."""
    longest = 0.0
    done = False

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    task = asyncio.create_task(ticker())
    await sanitize.sanitize_html_async(text)
    done = True
    await task
    return longest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", help="git revision to compare with")
    parser.add_argument("--sizes", default="12000,60000,200000")
    parser.add_argument("--budget", type=float, default=30.0)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    before = _module_at(args.before) if args.before else None

    print(f"{'input':22} {'chars':>8} {'after ms':>10} {'before ms':>10}")
    for name, pattern in PATTERNS.items():
        previous: tuple[int, float] | None = None
        for size in sizes:
            text = _input(pattern, size)
            after = _seconds(sanitize.sanitize_html, text)
            old = "-"
            if before is not None:
                estimate = 0.0
                if previous is not None:
                    estimate = previous[1] * (size / previous[0]) ** 2
                if estimate <= args.budget:
                    seconds = _seconds(before.sanitize_html, text)
                    previous = (size, seconds)
                    old = f"{seconds * 1000:.0f}"
                else:
                    old = f"~{estimate * 1000:.0f} (estimated)"
            print(f"{name:22} {size:8} {after * 1000:10.0f} {old:>10}")

    longest = _input(PATTERNS["ordinary paragraphs"], sanitize.MAX_HTML_LENGTH)
    stall = asyncio.run(_loop_stall(longest))
    print(f"longest event-loop stall while cleaning {len(longest)} chars: "
          f"{stall * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
