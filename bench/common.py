"""Shared parts of the benchmarks: databases, processes, cores, figures and rows."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("PEDAGOGUE_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
STARTUP_TIMEOUT = 60.0


# --- Machine and commit -----------------------------------------------------


def machine() -> dict[str, Any]:
    """Describe the machine the figures come from."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count() or 1,
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def commit() -> str:
    """Return the short commit of the work tree, marked when files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def cores() -> tuple[set[int], set[int]]:
    """Return (server cores, load generator cores): different ones when there are two."""
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) >= 2:
        return {usable[0]}, {usable[1]}
    return set(usable), set(usable)


def pinned(cpus: set[int] | None) -> Any:
    """A preexec_fn that pins the child (and its threads) to ``cpus``."""
    if not cpus:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cpus)

    return pin


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Figures ------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0.0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[rank]


@dataclass
class Row:
    """One line of a benchmark's table: a figure over repeats, with its limit."""

    label: str
    unit: str
    samples: list[float]
    kind: str = "measured"  # measured, limit or info
    limit: str | None = None  # label of the limit row this one is compared with
    higher_is_better: bool = True
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        samples = [float(value) for value in self.samples]
        return {
            "label": self.label,
            "unit": self.unit,
            "kind": self.kind,
            "limit": self.limit,
            "higher_is_better": self.higher_is_better,
            "note": self.note,
            "samples": samples,
            "median": statistics.median(samples) if samples else None,
            "min": min(samples) if samples else None,
            "max": max(samples) if samples else None,
        }


@dataclass
class Result:
    """The figures of one benchmark, written to bench/results/NAME.json."""

    name: str
    title: str
    size: str
    command: str
    rows: list[Row] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def target(self, text: str, measured: float | None, goal: float, *, at_most: bool = False,
               unit: str = "", bound: str = "") -> None:
        """Record a target, whether it is met and by how much it is missed."""
        if measured is None:
            met, missed = None, None
        elif at_most:
            met = measured <= goal
            missed = None if met else measured / goal
        else:
            met = measured >= goal
            if met:
                missed = None
            elif measured:
                missed = goal / measured
            else:
                missed = float("inf")
        self.targets.append({
            "text": text, "measured": measured, "goal": goal, "at_most": at_most,
            "unit": unit, "met": met, "factor": missed, "bound": bound,
        })

    def as_dict(self) -> dict[str, Any]:
        rows = [row.as_dict() for row in self.rows]
        by_label = {row["label"]: row for row in rows}
        for row in rows:
            reference = by_label.get(row["limit"] or "")
            if reference and reference["median"] and row["median"] is not None:
                row["ratio"] = row["median"] / reference["median"]
        return {
            "name": self.name,
            "title": self.title,
            "size": self.size,
            "command": self.command,
            "commit": commit(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started)),
            "duration_s": round(time.time() - self.started, 1),
            "machine": machine(),
            "rows": rows,
            "targets": self.targets,
            "notes": self.notes,
            "curves": self.curves,
            "extra": self.extra,
        }


# --- Databases ----------------------------------------------------------------


async def create_database(purpose: str) -> str:
    """Create an empty database with a unique name; return its DSN."""
    name = f"bench_{purpose}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def drop_database(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def migrate(dsn: str) -> None:
    from pedagogue.server import apply_migrations

    await apply_migrations(dsn)


# --- Processes --------------------------------------------------------------


class Process:
    """A child process of the suite, stopped by its PID."""

    def __init__(self, name: str, command: list[str], *, cpus: set[int] | None,
                 env: dict[str, str] | None = None, cwd: Path | None = None,
                 log_path: Path) -> None:
        self.name = name
        self.command = command
        self.cpus = cpus
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                self.command, stdout=output, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.cwd, preexec_fn=pinned(self.cpus),
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def wait_http(self, url: str, *, headers: dict[str, str] | None = None) -> None:
        """Wait until ``url`` answers below 500; raise RuntimeError with the log if not."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
                try:
                    async with session.get(url, headers=headers) as response:
                        if response.status < 500:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {url}:\n{self.log_tail()}")


class Instance(Process):
    """One ``pedagogue run`` process, started the way a district starts it."""

    def __init__(self, name: str, *, url: str, port: int, dsn: str, directory: Path,
                 cpus: set[int] | None, config: Path | None = None,
                 env: dict[str, str] | None = None, log_level: str = "INFO") -> None:
        command = [sys.executable, "-m", "pedagogue.cli"]
        if config is not None:
            command += ["--config", str(config)]
        command += [
            "--url", url, "--database-url", dsn, "--data-dir", str(directory / "data"),
            "--log-level", log_level, "run", "--listen", f"127.0.0.1:{port}", "--dev",
        ]
        environment = dict(os.environ)
        environment["PYTHONUNBUFFERED"] = "1"
        # The benchmarks send far more than one host or account would, and
        # measure throughput, so the rate limits are off.
        environment["PEDAGOGUE_FEDERATION__INBOX_RATE_PER_HOST"] = "0"
        environment["PEDAGOGUE_WEB__API_WRITE_RATE"] = "0"
        environment.update(env or {})
        super().__init__(name, command, cpus=cpus, env=environment, cwd=ROOT,
                         log_path=directory / f"{name}.log")
        self.url = url
        self.port = port
        self.address = f"http://127.0.0.1:{port}"

    async def start_and_wait(self) -> None:
        self.start()
        await self.wait_http(f"{self.address}/.well-known/nodeinfo")


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


# --- Memory -------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """Resident memory of one process and its children, in MiB."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            total += child.memory_info().rss
    except psutil.Error:
        return 0.0
    return total / 2**20


def postgres_pss_mib() -> float:
    """Proportional memory of every PostgreSQL process, in MiB.

    PSS shares the shared buffers out among the backends instead of counting
    them once per process, as RSS would.
    """
    total = 0
    for process in psutil.process_iter(["name"]):
        if (process.info["name"] or "").startswith("postgres"):
            try:
                total += process.memory_full_info().pss
            except psutil.Error:
                continue
    return total / 2**20


# --- Load generator ---------------------------------------------------------------


async def run_loadgen(spec: dict[str, Any], *, cpus: set[int] | None,
                      timeout: float = 900.0) -> dict[str, Any]:
    """Run bench.loadgen in its own process with ``spec``; return its JSON result."""
    process = await asyncio.create_subprocess_exec(
        *python_module("bench.loadgen"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=ROOT, preexec_fn=pinned(cpus),
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            process.communicate(json.dumps(spec).encode()), timeout
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"load generator ran over {timeout:.0f} s")
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{stderr.decode(errors='replace')[-3000:]}")
    return json.loads(stdout)


class Sampler:
    """Sample the resident memory of some PIDs, and PostgreSQL's, while load runs."""

    def __init__(self, pids: list[int], interval: float = 0.25) -> None:
        self.pids = pids
        self.interval = interval
        self.peak = 0.0
        self.postgres_peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, sum(rss_mib(pid) for pid in self.pids))
            self.postgres_peak = max(self.postgres_peak, postgres_pss_mib())
            await asyncio.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._task is not None:
            self._task.cancel()
