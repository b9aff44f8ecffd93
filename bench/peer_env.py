"""bovine-herd, the peer that the side-by-side rows run against.

It lives in its own virtual environment because it pins its own Quart and
Hypercorn versions. The environment is the one the external checks use
(tests/external/conftest.py): ``venv-bovine`` under ``$PEDAGOGUE_TEST_CACHE``
(default ``~/.cache/pedagogue-tests``), complete once its marker file lists the
same requirements, built under the same lock file.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from federation.jsonld import get_context

# tests/external/conftest.py imports these pins, so the benchmarks and the
# external checks share one environment.
BOVINE_REQUIREMENTS = ("bovine-herd==0.5.19", "bovine-tool==0.5.6")
INSTALL_TIMEOUT = 600.0
LOCK_TIMEOUT = 900.0
SEEDED_CONTEXTS = (
    "https://w3id.org/security/v1",
    "https://w3id.org/security/multikey/v1",
)
# The tools' proxy variables point at this closed port, so they stay offline.
CLOSED_PORT = 9


class PeerUnavailable(Exception):
    """The peer's environment could not be built; the side-by-side rows are skipped."""


def cache_dir() -> Path:
    return Path(
        os.environ.get("PEDAGOGUE_TEST_CACHE") or Path.home() / ".cache" / "pedagogue-tests"
    )


def _marker_matches(marker: Path) -> bool:
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("requirements") == list(BOVINE_REQUIREMENTS)


def _step(command: list[str], what: str) -> str:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"{what} timed out after {INSTALL_TIMEOUT:.0f} s") from None
    if result.returncode != 0:
        raise PeerUnavailable(f"{what} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def bovine_python(*, build: bool = True) -> Path:
    """Return the interpreter of the bovine environment, building it when allowed.

    Raises PeerUnavailable when it is missing and ``build`` is false, or when
    the install fails.
    """
    directory = cache_dir()
    venv = directory / "venv-bovine"
    python = venv / "bin" / "python"
    marker = venv / "pedagogue-requirements.json"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "venv-bovine.lock", "w") as lock_file:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PeerUnavailable("timed out waiting for the venv-bovine lock")
                time.sleep(1)
        if python.exists() and _marker_matches(marker):
            return python
        if not build:
            raise PeerUnavailable(f"{venv} is not built")
        shutil.rmtree(venv, ignore_errors=True)
        _step([sys.executable, "-m", "venv", str(venv)], f"creating {venv}")
        _step(
            [str(python), "-m", "pip", "install", *BOVINE_REQUIREMENTS],
            "pip install " + " ".join(BOVINE_REQUIREMENTS),
        )
        frozen = _step([str(python), "-m", "pip", "freeze"], "pip freeze")
        # Written last, so an interrupted build is never taken as complete.
        marker.write_text(
            json.dumps(
                {"requirements": list(BOVINE_REQUIREMENTS), "installed": frozen.split()},
                indent=1,
            )
        )
    return python


def tool_environment(**extra: str) -> dict[str, str]:
    """Return the environment for a bovine process: offline, outside our venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    closed = f"http://127.0.0.1:{CLOSED_PORT}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = closed
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def seed_jsonld_cache(directory: Path) -> None:
    """Seed bovine's JSON-LD context cache with the bundled contexts, so it stays
    offline (it keeps them in bovine_jsonld_cache.sqlite in its working directory)."""
    connection = sqlite3.connect(directory / "bovine_jsonld_cache.sqlite")
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS jsonld (url TEXT PRIMARY KEY, context TEXT)"
        )
        for url in SEEDED_CONTEXTS:
            context = get_context(url)["@context"]
            connection.execute(
                "INSERT OR REPLACE INTO jsonld VALUES (?, ?)", (url, json.dumps(context))
            )
        connection.commit()
    finally:
        connection.close()


if __name__ == "__main__":
    print(bovine_python())
