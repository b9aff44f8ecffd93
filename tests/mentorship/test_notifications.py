"""Mentorship notifications across live instances, and the check of a remote
mentor's server software, which runs outside the client's request."""

import asyncio
from typing import Any

from tests.mentorship.test_mentorship import (
    MENTORSHIPS,
    ask,
    mentorship_in_state,
    open_mentoring,
    thread_of_length,
)
from tests.support.live import Teacher, eventually
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
