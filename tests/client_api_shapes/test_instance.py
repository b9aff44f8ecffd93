"""The instance documents (``/api/v1/instance`` and ``/api/v2/instance``)
carry the limits the server enforces, read by Mastodon.py as an app would.

Each expected value comes from the constant or setting the server checks
requests against, so a changed limit that the documents miss fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from outbox.actions import MAX_STATUS_CHARACTERS
from outbox.polls import (
    MAX_EXPIRATION_SECONDS,
    MAX_OPTION_CHARACTERS,
    MAX_OPTIONS,
    MIN_EXPIRATION_SECONDS,
)
from outbox.profiles import MAX_IMAGE_PIXELS
from storage.media import MAX_ATTACHMENTS_PER_STATUS
from storage.status_history import MAX_PINS
from tests.client_api_shapes.conftest import MAX_BODY_BYTES
from tests.support.live import LiveInstance
from tests.web.test_mastodon_py import anonymous_client, call, raw_json
from web.api_media import SUPPORTED_MIME_TYPES


async def test_instance_status_limits(school: LiveInstance) -> None:
    v2 = await call(anonymous_client(school).instance_v2)
    statuses = v2["configuration"]["statuses"]

    assert statuses["max_characters"] == MAX_STATUS_CHARACTERS
    assert statuses["max_media_attachments"] == MAX_ATTACHMENTS_PER_STATUS
    assert statuses["characters_reserved_per_url"] == 23


async def test_instance_media_limits(school: LiveInstance) -> None:
    v2 = await call(anonymous_client(school).instance_v2)
    media = v2["configuration"]["media_attachments"]

    assert media["supported_mime_types"] == list(SUPPORTED_MIME_TYPES)
    assert media["image_size_limit"] == MAX_BODY_BYTES
    assert media["image_matrix_limit"] == MAX_IMAGE_PIXELS
    assert media["video_size_limit"] == 0


async def test_instance_poll_limits(school: LiveInstance) -> None:
    v2 = await call(anonymous_client(school).instance_v2)
    polls = v2["configuration"]["polls"]

    assert polls["max_options"] == MAX_OPTIONS
    assert polls["max_characters_per_option"] == MAX_OPTION_CHARACTERS
    assert polls["min_expiration"] == MIN_EXPIRATION_SECONDS
    assert polls["max_expiration"] == MAX_EXPIRATION_SECONDS


async def test_instance_account_urls_translation(school: LiveInstance) -> None:
    v2 = await call(anonymous_client(school).instance_v2)
    configuration = v2["configuration"]

    assert configuration["accounts"]["max_pinned_statuses"] == MAX_PINS
    assert configuration["accounts"]["max_featured_tags"] == 0
    assert configuration["urls"]["streaming"] == f"wss://{school.host}"
    assert configuration["translation"]["enabled"] is False


async def test_instance_v1_same_configuration(school: LiveInstance, teachers) -> None:
    # Read as sent, because Mastodon.py fills in every key of its own schema.
    (reader,) = await teachers("configreader")
    v1 = await raw_json(reader, "/api/v1/instance")
    v2 = await raw_json(reader, "/api/v2/instance")
    expected = {
        key: value
        for key, value in v2["configuration"].items()
        if key not in ("urls", "translation")
    }

    assert v1["configuration"] == expected
    assert v1["urls"]["streaming_api"] == f"wss://{school.host}"
    assert v1["thumbnail"] == v2["thumbnail"]["url"]


async def test_instance_registrations_need_approval(school: LiveInstance) -> None:
    client = anonymous_client(school)
    v1 = await call(client.instance_v1)
    v2 = await call(client.instance_v2)

    assert v2["registrations"]["enabled"] is True
    assert v2["registrations"]["approval_required"] is True
    assert v2["registrations"]["message"] is None
    assert v1["registrations"] is True
    assert v1["approval_required"] is True
    assert v1["invites_enabled"] is False


async def test_instance_api_version_and_thumbnail(school: LiveInstance) -> None:
    v2 = await call(anonymous_client(school).instance_v2)

    assert v2["api_versions"] == {"mastodon": 2}
    assert v2["thumbnail"]["url"] == f"{school.url}/static/header.png"
    assert v2["languages"] == ["en"]


async def test_instance_rules_listed(school: LiveInstance, teachers) -> None:
    client = anonymous_client(school)
    v2 = await call(client.instance_v2)
    rules = await call(client.instance_rules)

    assert [rule["text"] for rule in v2["rules"]] == [rule["text"] for rule in rules]


async def test_instance_contact_is_first_admin(school: LiveInstance, teachers) -> None:
    admin, later_admin = await teachers("contactadmin", "contactlater")
    connection = await school.db()
    try:
        await connection.execute(
            "UPDATE accounts SET is_admin = true WHERE id = ANY($1::bigint[])",
            [int(admin.account_id), int(later_admin.account_id)],
        )
    finally:
        await connection.close()
    client = anonymous_client(school)

    v1 = await call(client.instance_v1)
    v2 = await call(client.instance_v2)

    assert str(v2["contact"]["account"]["id"]) == admin.account_id
    assert str(v1["contact_account"]["id"]) == admin.account_id


async def test_instance_active_month_counts_recent(
    school: LiveInstance, teachers
) -> None:
    client = anonymous_client(school)
    # "monthidle" never uses its token and "monthgone" last used it 40 days ago.
    active, _, gone = await teachers("monthactive", "monthidle", "monthgone")
    connection = await school.db()
    try:
        await connection.execute(
            "UPDATE tokens SET last_used_at = $2 WHERE account_id = $1",
            int(gone.account_id),
            datetime.now(UTC) - timedelta(days=40),
        )
    finally:
        await connection.close()
    before = (await call(client.instance_v2))["usage"]["users"]["active_month"]

    await active.get("/api/v1/accounts/verify_credentials")
    after = (await call(client.instance_v2))["usage"]["users"]["active_month"]

    assert after == before + 1
