"""The password grant with web.allow_password_grant left at its default, off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mastodon import Mastodon, MastodonIllegalArgumentError

from tests.oauth.conftest import OOB, LoopbackSession, call
from tests.ui.conftest import (
    PASSWORD,
    UiInstance,
    start_ui_instances,
    stop_ui_instances,
)


@pytest.fixture(scope="module")
async def school(
    databases: Any, pki: Any, tmp_path_factory: Any
) -> AsyncIterator[UiInstance]:
    instances = await start_ui_instances(
        databases, pki, tmp_path_factory.mktemp("oauth-default"), ("school-a.test",)
    )
    (instance,) = instances
    await instance.add_teacher("alice")
    yield instance
    await stop_ui_instances(databases, instances)


async def register(school: Any) -> dict[str, Any]:
    http = LoopbackSession(school)
    response = await call(
        http.post,
        f"{school.client_url}/api/v1/apps",
        data={"client_name": "Script", "redirect_uris": OOB, "scopes": "read"},
    )
    return response.json()


async def test_password_grant_off_rejected(school):
    app = await register(school)
    http = LoopbackSession(school)

    response = await call(
        http.post,
        f"{school.client_url}/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": "alice",
            "password": PASSWORD,
        },
    )
    issued = await school.fetchval("SELECT count(*) FROM tokens")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert issued == 0


async def test_password_grant_off_not_in_metadata(school):
    http = LoopbackSession(school)

    response = await call(
        http.get, f"{school.client_url}/.well-known/oauth-authorization-server"
    )

    assert response.status_code == 200
    assert "password" not in response.json()["grant_types_supported"]
    assert "authorization_code" in response.json()["grant_types_supported"]


async def test_mastodon_py_password_login_refused(school):
    app = await register(school)
    client = Mastodon(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        api_base_url=school.client_url,
        session=LoopbackSession(school),
    )

    with pytest.raises(MastodonIllegalArgumentError):
        await call(client.log_in, username="alice", password=PASSWORD, scopes=["read"])
