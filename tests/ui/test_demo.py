"""``pedagogue demo`` as a newcomer runs it: start, sign in from the browser, see
a post from the other instance, stop."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

START_TIMEOUT = 150.0


def _free_pair() -> int:
    """Return a port whose next port is free too (the demo uses both)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no two adjacent free ports")


class Demo:
    def __init__(self, process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
        self.process = process
        self.lines = lines
        self.output: list[str] = []

    def read_until(self, marker: str) -> str:
        if any(marker in line for line in self.output):
            return "".join(self.output)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if marker in line:
                return "".join(self.output)
        raise AssertionError("the demo did not start:\n" + "".join(self.output))


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    port = _free_pair()
    process = subprocess.Popen(
        [sys.executable, "-m", "pedagogue.cli", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    # The instances and their database stop with the demo's own process.
    running = Demo(process, lines)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def _details(text: str) -> dict[str, Any]:
    urls = re.findall(r"(http://[a-z-]+\.localhost:\d+)/", text)
    password = re.search(r"Password for every sample teacher: (\S+)", text)
    assert password is not None, text
    return {"school": urls[0], "district": urls[1], "password": password.group(1)}


async def test_demo_shows_remote_post(demo: Demo, browser: Any) -> None:
    details = _details(demo.read_until("Press Ctrl+C"))
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{details['district']}/sign-in")
        await page.get_by_label("Username").fill("bob")
        await page.get_by_label("Password").fill(details["password"])
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{details['district']}/")
        article = page.locator("article", has_text="Hello from Lincoln Middle School")
        await article.first.wait_for()
        assert "alice@school-a.localhost" in await article.first.inner_text()
    finally:
        await context.close()


def test_demo_stops_on_sigterm(demo: Demo) -> None:
    demo.read_until("Press Ctrl+C")
    demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(timeout=40) == 0
