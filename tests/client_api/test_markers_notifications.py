"""Read markers and notifications through Mastodon.py and raw HTTP: marker
versions, unread counts, filtering by type and account, single
notifications, dismissing and clearing."""

from __future__ import annotations

import pytest
from mastodon import MastodonNotFoundError

from tests.client_api.conftest import checked, client_for
from tests.web.test_mastodon_py import call


async def test_markers_by_mastodon_py(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    empty = await call(api.markers_get, ["home", "notifications"])
    first = await call(api.markers_set, ["home"], ["100"])
    second = await call(api.markers_set, ["home", "notifications"], ["105", "7"])
    both = await call(api.markers_get, ["home", "notifications"])

    assert dict(empty) == {}
    assert str(first.home.last_read_id) == "100"
    assert first.home.version == 0
    assert second.home.version == 1
    assert str(both.home.last_read_id) == "105"
    assert str(both.notifications.last_read_id) == "7"
    assert both.notifications.version == 0


async def test_markers_from_form_body(teachers):
    (alice,) = await teachers("alice")

    saved = await checked(
        alice,
        "POST",
        "/api/v1/markers",
        "/api/v1/markers",
        data={"notifications[last_read_id]": "42"},
    )
    read = await checked(
        alice, "GET", "/api/v1/markers?timeline[]=notifications", "/api/v1/markers"
    )

    assert saved["notifications"]["last_read_id"] == "42"
    assert read == saved


async def test_markers_invalid_id_rejected(teachers):
    (alice,) = await teachers("alice")

    error = await checked(
        alice,
        "POST",
        "/api/v1/markers",
        "/api/v1/markers",
        422,
        json={"home": {"last_read_id": "latest"}},
    )

    assert "home[last_read_id] must be an id" in error["error"]


async def _favourited_by(status_owner, *fans):
    status = await status_owner.post(
        "/api/v1/statuses", json={"status": "Ideas for Monday"}
    )
    for fan in fans:
        await fan.post(f"/api/v1/statuses/{status['id']}/favourite")
    return status


async def test_notifications_filtered_by_type_and_account(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    await _favourited_by(alice, bruno, carla)
    await bruno.post(f"/api/v1/accounts/{alice.account_id}/follow")
    api = client_for(alice)

    favourites = await call(api.notifications, types=["favourite"])
    not_favourites = await call(api.notifications, exclude_types=["favourite"])
    from_bruno = await call(api.notifications, account_id=bruno.account_id)
    raw_list = await checked(
        alice,
        "GET",
        f"/api/v1/notifications?account_id={carla.account_id}",
        "/api/v1/notifications",
    )

    assert {str(item.account.id) for item in favourites} == {
        bruno.account_id,
        carla.account_id,
    }
    assert [item.type for item in not_favourites] == ["follow"]
    assert sorted(item.type for item in from_bruno) == ["favourite", "follow"]
    assert [item["account"]["id"] for item in raw_list] == [carla.account_id]


async def test_notification_read_and_dismissed(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await _favourited_by(alice, bruno)
    api = client_for(alice)
    (notification,) = await call(api.notifications)

    one = await call(api.notifications, id=notification.id)
    raw_one = await checked(
        alice,
        "GET",
        f"/api/v1/notifications/{notification.id}",
        "/api/v1/notifications/{id}",
    )
    await call(api.notifications_dismiss, notification.id)

    assert one.type == "favourite"
    assert raw_one["id"] == str(notification.id)
    assert await call(api.notifications) == []
    with pytest.raises(MastodonNotFoundError):
        await call(api.notifications, id=notification.id)


async def test_notification_of_another_account_not_found(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await _favourited_by(alice, bruno)
    (notification,) = await alice.get("/api/v1/notifications")

    read = await checked(
        bruno,
        "GET",
        f"/api/v1/notifications/{notification['id']}",
        "/api/v1/notifications/{id}",
        404,
    )
    dismissed = await checked(
        bruno,
        "POST",
        f"/api/v1/notifications/{notification['id']}/dismiss",
        "/api/v1/notifications/{id}/dismiss",
        404,
    )

    assert read == {"error": "Record not found"}
    assert dismissed == {"error": "Record not found"}
    assert len(await alice.get("/api/v1/notifications")) == 1


async def test_notifications_cleared(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    await _favourited_by(alice, bruno, carla)

    cleared = await checked(
        alice, "POST", "/api/v1/notifications/clear", "/api/v1/notifications/clear"
    )

    assert cleared == {}
    assert await alice.get("/api/v1/notifications") == []


async def test_notifications_unread_count_follows_marker(teachers):
    alice, bruno, carla = await teachers("alice", "bruno", "carla")
    await _favourited_by(alice, bruno, carla)
    notifications = await alice.get("/api/v1/notifications")

    before = await checked(
        alice,
        "GET",
        "/api/v1/notifications/unread_count",
        "/api/v1/notifications/unread_count",
    )
    await alice.post(
        "/api/v1/markers",
        json={"notifications": {"last_read_id": notifications[1]["id"]}},
    )
    after = await alice.get("/api/v1/notifications/unread_count")
    capped = await alice.get("/api/v1/notifications/unread_count?limit=0")

    assert before == {"count": 2}
    assert after == {"count": 1}
    assert capped == {"count": 1}


async def test_markers_accept_json_integers(teachers):
    (alice,) = await teachers("alice")

    saved = await checked(
        alice,
        "POST",
        "/api/v1/markers",
        "/api/v1/markers",
        json={"home": {"last_read_id": 77}},
    )

    assert saved["home"]["last_read_id"] == "77"


async def test_notifications_unread_count_by_type(teachers):
    alice, bruno = await teachers("alice", "bruno")
    await _favourited_by(alice, bruno)
    await bruno.post(f"/api/v1/accounts/{alice.account_id}/follow")

    follows = await alice.get("/api/v1/notifications/unread_count?types[]=follow")
    others = await alice.get(
        "/api/v1/notifications/unread_count?exclude_types[]=follow"
    )

    assert follows == {"count": 1}
    assert others == {"count": 1}
