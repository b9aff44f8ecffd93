"""A second delivery of the same activity changes nothing.

Each flow is delivered once, the tables it can touch are read, and the same
activity is delivered again: once as a repeated POST (the inbox keeps the
activity id unique), and once after its queue row was removed, so the handler
itself has to be idempotent, as it must when a peer re-sends an activity
under a fresh queue row.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.inbox.conftest import InboxHarness

# Tables an incoming activity can change, with the columns that identify a
# row's content. Timestamps of fetches are left out: refetching is allowed.
TABLES = {
    "accounts": "actor_id, display_name, summary, icon_url, deleted_at",
    "statuses": (
        "uri, content, spoiler_text, visibility, reblog_of_id, edited_at,"
        " deleted_at, replies_count, reblogs_count, favourites_count"
    ),
    "follows": "account_id, target_account_id, uri, accepted",
    "favourites": "account_id, status_id, uri",
    "notifications": "account_id, type, from_account_id, status_id",
    "home_feed": "account_id, status_id",
    "mentions": "status_id, account_id",
    "status_tags": "status_id, name",
    "media_attachments": "status_id, remote_url, media_type, description",
    "activities": "uri, type, object_uri",
    "deliveries": "activity_id, inbox_url",
}


async def snapshot(harness: InboxHarness) -> dict[str, list[str]]:
    """Return every row of the tables above, as sorted JSON texts."""
    tables: dict[str, list[str]] = {}
    for table, columns in TABLES.items():
        rows = await harness.pool.fetch(f"SELECT {columns} FROM {table}")
        tables[table] = sorted(
            json.dumps(dict(row), default=str, sort_keys=True) for row in rows
        )
    return tables


def note_update(harness: InboxHarness) -> dict[str, Any]:
    """Return an Update of the fixture actor's note with new content."""
    created = harness.fixture("create_note")
    note = dict(created["object"])
    note["content"] = "<p>Edited: exit tickets sorted by misconception.</p>"
    note["updated"] = "2024-06-25T12:00:00Z"
    return {
        "@context": created["@context"],
        "id": f"{note['id']}#updates/1",
        "type": "Update",
        "actor": created["actor"],
        "to": created["to"],
        "cc": created.get("cc", []),
        "object": note,
    }


async def prepared(harness: InboxHarness, flow: str) -> dict[str, Any]:
    """Deliver what ``flow`` needs first; return the activity to duplicate."""
    if flow in ("update_note", "delete"):
        await harness.deliver("create_note")
    if flow == "update_note":
        return note_update(harness)
    return harness.fixture(flow)


FLOWS = [
    "create_note",
    "like",
    "announce",
    "follow",
    "update_actor",
    "update_note",
    "delete",
]


@pytest.mark.parametrize("flow", FLOWS)
async def test_repeated_post_changes_nothing(harness: InboxHarness, flow: str) -> None:
    activity = await prepared(harness, flow)
    await harness.deliver(activity)
    before = await snapshot(harness)

    response = await harness.post(activity)
    await harness.process()

    assert response.status_code == 202
    assert await harness.queue_count() == len(
        await harness.pool.fetch("SELECT DISTINCT activity_id FROM inbox_queue")
    )
    assert await snapshot(harness) == before


@pytest.mark.parametrize("flow", FLOWS)
async def test_reprocessed_activity_changes_nothing(
    harness: InboxHarness, flow: str
) -> None:
    activity = await prepared(harness, flow)
    await harness.deliver(activity)
    row = await harness.queue_row(activity["id"])
    assert row is not None
    assert row["state"] == "done"
    before = await snapshot(harness)

    await harness.pool.execute(
        "DELETE FROM inbox_queue WHERE activity_id = $1", activity["id"]
    )
    await harness.deliver(activity)

    again = await harness.queue_row(activity["id"])
    assert again is not None
    assert again["state"] in ("done", "ignored")
    after = await snapshot(harness)
    resent = {"activities", "deliveries"} if flow == "follow" else set()
    for table in TABLES.keys() - resent:
        assert after[table] == before[table], table
    if flow == "follow":
        # Like Mastodon, a Follow of an existing follow is answered with
        # Accept again, because the follower may have lost the first one.
        new = [row for row in after["activities"] if row not in before["activities"]]
        assert len(new) == 1
        assert json.loads(new[0])["type"] == "Accept"
