"""bovine-herd as a real ActivityPub peer of a Pedagogue instance.

bovine-herd rejects unsigned fetches of its actors (authorized fetch) and signs
with draft-cavage. It does not accept Follows by itself, so its actors send
Accept and Follow through their outbox, which these tests drive with bovine's
client library.
"""

from __future__ import annotations

from typing import Any

from tests.external.conftest import BovineHerd, BovineUser
from tests.support.live import LiveInstance, Teacher, eventually

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# bovine processes inbox and outbox items in background tasks; these bound the
# polling for their effects.
PEER_TIMEOUT = 20.0


def id_of(value: Any) -> Any:
    # bovine's client embeds the actor and object of inbox items it resolves.
    return value.get("id") if isinstance(value, dict) else value


async def inbox_item(
    user: BovineUser, activity_type: str, actor_id: str
) -> dict[str, Any] | None:
    """Poll the bovine actor's inbox for an activity of a type from an actor."""

    async def find() -> dict[str, Any] | None:
        for item in await user.inbox():
            if (
                item.get("type") == activity_type
                and id_of(item.get("actor")) == actor_id
            ):
                return item
        return None

    return await eventually(find, timeout=PEER_TIMEOUT, interval=0.5)


async def relationship(teacher: Teacher, account_id: str, field: str) -> bool:
    """Poll the teacher's relationship to an account until ``field`` is true."""

    async def check() -> bool:
        relations = await teacher.get(
            "/api/v1/accounts/relationships", params={"id[]": account_id}
        )
        return bool(relations[0][field])

    return await eventually(check, timeout=PEER_TIMEOUT)


async def delivery_of_create(
    instance: LiveInstance, status_uri: str, inbox_url: str
) -> dict[str, Any] | None:
    """Poll our deliveries table until the Create of a status left the queue."""

    async def finished() -> dict[str, Any] | None:
        connection = await instance.db()
        try:
            row = await connection.fetchrow(
                "SELECT d.state, d.last_status, d.last_error, d.attempts"
                " FROM deliveries d JOIN activities a ON a.id = d.activity_id"
                " WHERE a.type = 'Create' AND a.object_uri = $1 AND d.inbox_url = $2",
                status_uri,
                inbox_url,
            )
        finally:
            await connection.close()
        if row is None or row["state"] == "queued":
            return None
        return dict(row)

    return await eventually(finished, timeout=PEER_TIMEOUT)


async def test_teacher_follow_accepted_by_bovine(
    pedagogue: LiveInstance, bovine_herd: BovineHerd
) -> None:
    milton = await bovine_herd.register("milton")
    teacher = await pedagogue.create_teacher("ada")

    # Resolving needs a signed fetch: bovine rejects unsigned actor fetches.
    remote = await teacher.resolve(f"@{milton.handle}")
    await teacher.post(f"/api/v1/accounts/{remote['id']}/follow")

    follow = await inbox_item(milton, "Follow", teacher.actor_id)
    assert follow is not None, "the Follow never reached bovine's inbox"

    answer = await milton.send(
        {
            "@context": AS_CONTEXT,
            "type": "Accept",
            "actor": milton.actor_id,
            "object": follow["id"],
            "to": [teacher.actor_id],
        }
    )
    assert answer["status"] == 201, answer
    assert await relationship(teacher, remote["id"], "following"), (
        "bovine's Accept never marked the follow as accepted"
    )


async def test_post_delivered_to_bovine_follower(
    pedagogue: LiveInstance, bovine_herd: BovineHerd
) -> None:
    nora = await bovine_herd.register("nora")
    teacher = await pedagogue.create_teacher("bea")

    answer = await nora.send(
        {
            "@context": AS_CONTEXT,
            "type": "Follow",
            "actor": nora.actor_id,
            "object": teacher.actor_id,
            "to": [teacher.actor_id],
        }
    )
    assert answer["status"] == 201, answer
    follower = await teacher.resolve(f"@{nora.handle}")
    assert await relationship(teacher, follower["id"], "followed_by"), (
        "bovine's Follow never reached the teacher"
    )
    accept = await inbox_item(nora, "Accept", teacher.actor_id)
    assert accept is not None, "the teacher's Accept never reached bovine's inbox"

    status = await teacher.post(
        "/api/v1/statuses", json={"status": "Peer observation notes for Thursday"}
    )
    delivery = await delivery_of_create(pedagogue, status["uri"], nora.inbox_url)
    assert delivery is not None, "the Create was never delivered to bovine"
    assert delivery["state"] == "delivered", delivery
    assert 200 <= delivery["last_status"] < 300, delivery

    create = await inbox_item(nora, "Create", teacher.actor_id)
    assert create is not None, "the Create is not in bovine's inbox"
    assert id_of(create["object"]) == status["uri"], create


async def test_bovine_signed_fetch_of_teacher(
    pedagogue: LiveInstance, bovine_herd: BovineHerd
) -> None:
    otto = await bovine_herd.register("otto")
    teacher = await pedagogue.create_teacher("cleo")

    # bovine's proxyUrl endpoint fetches the URL signed with otto's key.
    document = await otto.fetch(teacher.actor_id)
    assert document.get("id") == teacher.actor_id, document
    assert document.get("inbox") == f"{teacher.actor_id}/inbox", document


async def test_signature_scheme_stored_for_bovine(
    pedagogue: LiveInstance, bovine_herd: BovineHerd
) -> None:
    pia = await bovine_herd.register("pia")
    teacher = await pedagogue.create_teacher("dora")

    await teacher.resolve(f"@{pia.handle}")
    connection = await pedagogue.db()
    try:
        scheme = await connection.fetchval(
            "SELECT signature_scheme FROM hosts WHERE host = $1",
            bovine_herd.server.host,
        )
    finally:
        await connection.close()
    # bovine-herd 0.5.19 rejects Pedagogue's RFC 9421 signatures with 401,
    # because it does not support the @target-uri component, so Pedagogue
    # falls back to draft-cavage and remembers that.
    assert scheme == "cavage"
