"""Open streams when the server stops."""

from __future__ import annotations

import asyncio

from tests.streaming.conftest import EventSource


async def test_shutdown_ends_open_streams(start_instances) -> None:
    (school,) = await start_instances("college-c.test")
    source = EventSource(school, "/api/v1/streaming/public", None)
    status = await source.open()
    try:
        school.terminate()
        await asyncio.to_thread(school.stop)
        # The client sees the end of the stream once the server closed it.
        for _ in range(50):
            if source.ended():
                break
            await asyncio.sleep(0.1)
        ended = source.ended()
    finally:
        await source.close()
    log = school.log_text()
    assert status == 200
    assert ended
    assert "stream closed for address:127.0.0.1: server shutting down" in log
    assert " ERROR " not in log
