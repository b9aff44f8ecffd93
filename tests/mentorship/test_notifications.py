"""Mentorship notifications across live instances, and the check of a remote
mentor's server software, which runs outside the client's request."""

import asyncio
import ssl
from typing import Any

from aiohttp import web

from tests.mentorship.test_mentorship import (
    MENTORSHIPS,
    ask,
    mentorship_in_state,
    open_mentoring,
    thread,
    thread_of_length,
)
from tests.support.live import LiveInstance, Teacher, eventually
from tests.support.openapi import validate_response


async def mentorship_notification(
    teacher: Teacher, kind: str, mentorship_id: str
) -> dict[str, Any] | None:
    """Wait for the teacher's notification of ``kind`` about a mentorship."""

    async def find() -> dict[str, Any] | None:
        found = await teacher.get("/api/v1/notifications")
        return next(
            (
                item
                for item in found
                if item["type"] == kind and item.get("mentorship_id") == mentorship_id
            ),
            None,
        )

    return await eventually(find)


async def peer_check_done(instance: LiveInstance, uri: str) -> bool:
    connection = await instance.db()
    try:
        state = await connection.fetchval(
            "SELECT peer_check FROM mentorships WHERE uri = $1", uri
        )
    finally:
        await connection.close()
    return state == "done"


async def software_of(instance: LiveInstance, host: str) -> str | None:
    connection = await instance.db()
    try:
        return await connection.fetchval(
            "SELECT software FROM hosts WHERE host = $1", host
        )
    finally:
        await connection.close()


async def test_mentorship_notifications_both_sides(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    dave = await school.create_teacher("dave")
    bob = await district.create_teacher("bob")
    await open_mentoring(alice, subjects=["Maths"], grade_levels=["6"], capacity=3)

    # A remote request notifies the mentor, and the rejection notifies the mentee.
    first = await ask(bob, alice, "First request.")
    at_alice = await mentorship_in_state(alice, "pending", first["uri"])
    assert at_alice is not None
    request = await mentorship_notification(alice, "mentorship_request", at_alice["id"])
    assert request is not None
    assert request["account"]["acct"] == bob.handle

    # district read school's NodeInfo, so the request went out as an Offer
    # alone, without a direct message.
    assert await eventually(lambda: peer_check_done(district, first["uri"]))
    assert await software_of(district, school.host) == "pedagogue"
    assert await thread(bob, first["id"]) == []

    await alice.post(f"{MENTORSHIPS}/{at_alice['id']}/reject")
    rejected = await mentorship_notification(bob, "mentorship_rejected", first["id"])
    assert rejected is not None
    assert rejected["account"]["acct"] == alice.handle

    # A second request from the same mentee notifies again.
    second = await ask(bob, alice, "Second request.")
    at_alice = await mentorship_in_state(alice, "pending", second["uri"])
    assert at_alice is not None
    again = await mentorship_notification(alice, "mentorship_request", at_alice["id"])
    assert again is not None
    await alice.post(f"{MENTORSHIPS}/{at_alice['id']}/accept")
    accepted = await mentorship_notification(bob, "mentorship_accepted", second["id"])
    assert accepted is not None

    # The mentee's withdrawal notifies the mentor.
    await bob.post(f"{MENTORSHIPS}/{second['id']}/withdraw")
    withdrawn = await mentorship_notification(
        alice, "mentorship_withdrawn", at_alice["id"]
    )
    assert withdrawn is not None
    assert withdrawn["account"]["acct"] == bob.handle

    # A local request notifies the local mentor at once.
    local = await dave.post(MENTORSHIPS, json={"mentor_id": alice.account_id})
    validate_response("mentorship", MENTORSHIPS, "POST", 200, local)
    notified = await mentorship_notification(alice, "mentorship_request", local["id"])
    assert notified is not None
    assert notified["account"]["acct"] == "dave"
    await alice.post(f"{MENTORSHIPS}/{local['id']}/accept")
    local_accepted = await mentorship_notification(
        dave, "mentorship_accepted", local["id"]
    )
    assert local_accepted is not None


class SilentServer:
    """A TCP listener on loopback that accepts connections and never responds,
    as a stalled remote server does. After ``release`` it closes the held
    connections and each new one at once, as a server that went away."""

    def __init__(self) -> None:
        self.connections: list[asyncio.StreamWriter] = []
        # Connections the client closed, for example when its timeout ran out.
        self.given_up = 0
        self.released = False
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections.append(writer)
            if self.released:
                writer.close()
                return
            while await reader.read(4096):
                pass
            if not self.released:
                self.given_up += 1

        self.server = await asyncio.start_server(hold, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def release(self) -> None:
        self.released = True
        for writer in self.connections:
            writer.close()

    async def stop(self) -> None:
        self.release()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_stalled_mentor_server_does_not_block_request(start_instances):
    (district,) = await start_instances("district-b.test")
    bob = await district.create_teacher("bob")
    silent = SilentServer()
    port = await silent.start()
    try:
        # A remote mentor on a host that accepts connections and never responds:
        # college-c.test maps to 127.0.0.1 in the instance's host map.
        host = f"college-c.test:{port}"
        actor_id = f"https://{host}/users/slow"
        connection = await district.db()
        try:
            mentor_id = await connection.fetchval(
                "INSERT INTO accounts (id, username, domain, actor_id, actor_type,"
                " display_name, inbox_url) VALUES (9000001, 'slow', $1, $2, 'Person',"
                " 'Slow', $3) RETURNING id",
                host,
                actor_id,
                f"{actor_id}/inbox",
            )
        finally:
            await connection.close()

        # The request returns before any client gave up on the silent server,
        # so no remote call is on its path.
        status, created = await bob.request(
            "POST",
            MENTORSHIPS,
            json={"mentor_id": str(mentor_id), "message": "Hello", "subjects": ["Art"]},
        )
        assert silent.given_up == 0
        assert status == 200, created
        validate_response("mentorship", MENTORSHIPS, "POST", 200, created)
        assert created["state"] == "pending"

        # The worker's NodeInfo read reaches the silent server. Once it gives
        # up, the request goes out as a direct message too.
        assert await eventually(lambda: _true(len(silent.connections) > 0))
        silent.release()
        message = await thread_of_length(bob, created["id"], 1)
        assert len(message) == 1
        assert "Would you mentor me in Art? Hello" in message[0]["content"]
    finally:
        await silent.stop()


async def _true(value: bool) -> bool:
    return value


class MastodonShapedPeer:
    """An HTTPS server on loopback that serves NodeInfo as Mastodon 4.2 does and
    records what is posted to its inboxes."""

    def __init__(self, pki: Any) -> None:
        self.pki = pki
        self.received: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.origin = ""

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/.well-known/nodeinfo", self.nodeinfo_links)
        app.router.add_get("/nodeinfo/2.0", self.nodeinfo)
        app.router.add_post("/users/{name}/inbox", self.inbox)
        app.router.add_post("/inbox", self.inbox)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.pki.cert_file), str(self.pki.key_file))
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.origin = f"https://college-c.test:{port}"
        return port

    async def nodeinfo_links(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "links": [
                    {
                        "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                        "href": f"{self.origin}/nodeinfo/2.0",
                    }
                ]
            }
        )

    async def nodeinfo(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "version": "2.0",
                "software": {"name": "mastodon", "version": "4.2.10"},
                "protocols": ["activitypub"],
                "services": {"outbound": [], "inbound": []},
                "usage": {"users": {"total": 1}, "localPosts": 0},
                "openRegistrations": False,
                "metadata": {},
            }
        )

    async def inbox(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(status=202)

    async def activity(self, kind: str) -> dict[str, Any] | None:
        return next((a for a in self.received if a.get("type") == kind), None)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def add_remote_teacher(
    instance: LiveInstance, account_id: int, username: str, origin: str
) -> str:
    """Store a remote account as if its actor document had been fetched."""
    host = origin.split("://", 1)[1]
    actor_id = f"{origin}/users/{username}"
    connection = await instance.db()
    try:
        await connection.execute(
            "INSERT INTO accounts (id, username, domain, actor_id, actor_type,"
            " display_name, inbox_url) VALUES ($1, $2, $3, $4, 'Person', $2, $5)",
            account_id,
            username,
            host,
            actor_id,
            f"{actor_id}/inbox",
        )
    finally:
        await connection.close()
    return actor_id


async def test_mastodon_mentor_gets_direct_message(start_instances, pki):
    (district,) = await start_instances("district-b.test")
    bob = await district.create_teacher("bob")
    peer = MastodonShapedPeer(pki)
    await peer.start()
    try:
        actor_id = await add_remote_teacher(district, 9000003, "mira", peer.origin)

        created = await bob.post(
            MENTORSHIPS,
            json={
                "mentor_id": "9000003",
                "message": "Could you help with source analysis?",
                "subjects": ["History"],
            },
        )
        offer = await eventually(lambda: peer.activity("Offer"))
        create = await eventually(lambda: peer.activity("Create"))

        assert created["state"] == "pending"
        assert offer is not None
        assert offer["object"]["id"] == created["uri"]
        assert create is not None
        note = create["object"]
        assert note["type"] == "Note"
        assert note["to"] == [actor_id]
        assert "Would you mentor me in History?" in note["content"]
        assert "Could you help with source analysis?" in note["content"]
        assert f"{district.url}/@bob" in note["content"]
        assert any(tag.get("href") == actor_id for tag in note["tag"])
        host = peer.origin.split("://", 1)[1]
        assert await software_of(district, host) == "mastodon"
    finally:
        await peer.stop()
