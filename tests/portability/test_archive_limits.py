"""Archives from anywhere: limits, hostile HTML, and nothing half-imported."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from pedagogue import portability
from pedagogue.accounts import create_teacher
from pedagogue.portability import ArchiveError, import_account
from pedagogue.runtime import Runtime

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
OLD_ACTOR = "https://old.example/users/alice"


def archive_of(entries: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in entries.items():
            text = value if isinstance(value, str) else json.dumps(value)
            archive.writestr(name, text)
    return buffer.getvalue()


def note(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Create",
        "actor": OLD_ACTOR,
        "object": {
            "id": f"{OLD_ACTOR}/statuses/1",
            "type": "Note",
            "content": content,
            "published": "2024-03-01T09:30:00Z",
            "to": [PUBLIC],
            "cc": [f"{OLD_ACTOR}/followers"],
            **extra,
        },
    }


def actor() -> dict[str, Any]:
    return {"id": OLD_ACTOR, "type": "Person", "name": "Alice After", "summary": ""}


@pytest.fixture
async def alice(runtime: Runtime) -> Any:
    return await create_teacher(
        runtime.pool,
        runtime.settings,
        username="alice",
        password=None,
        display_name="Alice Before",
    )


async def statuses_of(runtime: Runtime, account: Any) -> list[Any]:
    return await runtime.pool.fetch(
        "SELECT content, created_at FROM statuses WHERE account_id = $1",
        account["id"],
    )


async def test_import_sanitises_post_html(runtime: Runtime, alice: Any) -> None:
    hostile = '<p>Hi<script>alert(1)</script><a href="javascript:alert(2)">x</a></p>'
    data = archive_of(
        {"actor.json": actor(), "outbox.json": {"orderedItems": [note(hostile)]}}
    )

    report = await import_account(runtime, "alice", data)

    rows = await statuses_of(runtime, alice)
    assert report.posts == 1
    assert len(rows) == 1
    assert "<script" not in rows[0]["content"]
    assert "javascript:" not in rows[0]["content"]
    assert rows[0]["created_at"].isoformat() == "2024-03-01T09:30:00+00:00"


async def test_import_future_date_clamped(runtime: Runtime, alice: Any) -> None:
    future = note("<p>From the future</p>", published="2999-01-01T00:00:00Z")
    data = archive_of(
        {"actor.json": actor(), "outbox.json": {"orderedItems": [future]}}
    )

    await import_account(runtime, "alice", data)

    rows = await statuses_of(runtime, alice)
    assert rows[0]["created_at"].year < 2999


async def test_import_oversized_entry_rejected(
    runtime: Runtime, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portability, "MAX_ENTRY_BYTES", 1000)
    padding = "<p>" + "a" * 5000 + "</p>"
    data = archive_of(
        {"actor.json": actor(), "outbox.json": {"orderedItems": [note(padding)]}}
    )

    with pytest.raises(ArchiveError, match="outbox.json is over 1000 bytes"):
        await import_account(runtime, "alice", data)

    # The profile comes first in an import, and must not change either.
    name = await runtime.pool.fetchval(
        "SELECT display_name FROM accounts WHERE id = $1", alice["id"]
    )
    assert name == "Alice Before"


async def test_import_too_many_entries_rejected(
    runtime: Runtime, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(portability, "MAX_ENTRIES", 3)
    entries: dict[str, Any] = {f"media/{i}.png": "x" for i in range(4)}
    entries["actor.json"] = actor()

    with pytest.raises(ArchiveError, match="over 3 entries"):
        await import_account(runtime, "alice", archive_of(entries))

    assert await statuses_of(runtime, alice) == []


async def test_import_not_zip_rejected(runtime: Runtime, alice: Any) -> None:
    with pytest.raises(ArchiveError, match="not a ZIP archive"):
        await import_account(runtime, "alice", b"PK\x03\x04 truncated")


async def test_import_without_actor_rejected(runtime: Runtime, alice: Any) -> None:
    data = archive_of({"outbox.json": {"orderedItems": [note("<p>Hi</p>")]}})

    with pytest.raises(ArchiveError, match="actor.json is missing"):
        await import_account(runtime, "alice", data)

    assert await statuses_of(runtime, alice) == []


async def test_import_skips_direct_messages(runtime: Runtime, alice: Any) -> None:
    direct = note("<p>Just for you</p>", to=["https://else.example/users/bo"], cc=[])
    data = archive_of(
        {"actor.json": actor(), "outbox.json": {"orderedItems": [direct]}}
    )

    report = await import_account(runtime, "alice", data)

    assert report.posts == 0
    assert len(report.skipped) == 1
    assert "direct" in report.skipped[0]
    assert await statuses_of(runtime, alice) == []
