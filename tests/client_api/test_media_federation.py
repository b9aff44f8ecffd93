"""An image posted through the client API on one instance reaches another as
a Document, and the receiving instance shows it as a MediaAttachment with its
alt text, focal point and size."""

from __future__ import annotations

from tests.client_api.conftest import client_for
from tests.client_api.test_media import png_with_text
from tests.support.live import eventually
from tests.support.openapi import validate_response
from tests.web.test_mastodon_py import call


async def test_media_received_by_follower_instance(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bruno = await district.create_teacher("bruno")
    remote_alice = await bruno.resolve(alice.handle)
    await bruno.post(f"/api/v1/accounts/{remote_alice['id']}/follow")

    async def accepted() -> bool:
        relation = await bruno.get(
            f"/api/v1/accounts/relationships?id[]={remote_alice['id']}"
        )
        return relation[0]["following"]

    assert await eventually(accepted)
    api = client_for(alice)
    media = await call(
        api.media_post,
        png_with_text(40, 20),
        mime_type="image/png",
        description="Bar chart of test scores",
        focus=(-0.5, 0.75),
    )
    posted = await call(api.status_post, "Scores are up", media_ids=[media.id])

    async def received() -> list:
        return await bruno.get(f"/api/v1/accounts/{remote_alice['id']}/statuses")

    statuses = await eventually(received)
    validate_response("client", "/api/v1/bookmarks", "GET", 200, statuses)
    (status,) = statuses
    (attachment,) = status["media_attachments"]

    assert status["uri"] == posted.uri
    assert attachment["type"] == "image"
    assert attachment["remote_url"] == media.url
    assert attachment["url"] == media.url
    assert attachment["description"] == "Bar chart of test scores"
    assert attachment["meta"]["focus"] == {"x": -0.5, "y": 0.75}
    assert attachment["meta"]["original"]["size"] == "40x20"
