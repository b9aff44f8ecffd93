"""Sampling the server with py-spy while load runs, and summing the samples."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE = 250  # samples per second


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def available() -> bool:
    return py_spy() is not None


async def profile_during(pid: int, load: Any, directory: Path, requests: int) -> dict[str, Any]:
    """Record ``pid`` while ``load`` runs; return the top costs per request.

    Each sample stands for 1/RATE s of the process's time; idle samples are
    left out (py-spy's default), so the totals are CPU time.
    """
    output = directory / "inbox-profile.txt"
    recorder = await asyncio.create_subprocess_exec(
        py_spy() or "py-spy", "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
        "--output", str(output), "--nonblocking",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)
    outcome = await load
    recorder.send_signal(2)
    await recorder.wait()
    summary = summarise(output, outcome["requests"])
    summary["load"] = {k: outcome[k] for k in ("rate", "p50_ms", "p99_ms", "requests")}
    return summary


def _frame_name(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)"
    name, _, location = frame.partition(" (")
    path = location.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:])
    return f"{name} ({short})"


def summarise(path: Path, requests: int) -> dict[str, Any]:
    """Self and inclusive CPU time per frame, in microseconds per request."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"error": "py-spy wrote no profile"}
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    per_request = 1e6 / RATE / max(1, requests)
    return {
        "samples": total,
        "cpu_us_per_request": total * per_request,
        "self": [(name, count * per_request) for name, count in own.most_common(25)],
        "inclusive": [(name, count * per_request) for name, count in inclusive.most_common(60)],
    }
