"""An instance split into a web process and a worker process on one database."""

import asyncio

from tests.e2e.peers import arrives_home, follow, post


async def test_web_and_worker_processes_federate(start_instances):
    (school,) = await start_instances("school-a.test")
    (district,) = await start_instances("district-b.test", role="web")
    await district.start_worker()
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")
    await follow(bob, alice)

    from_alice = await post(alice, "Reading circle notes")

    assert await arrives_home(bob, from_alice["uri"]) is not None


async def test_web_role_leaves_deliveries_to_workers(start_instances):
    (school,) = await start_instances("school-a.test", role="web")
    alice = await school.create_teacher("alice")
    await alice.post("/api/v1/statuses", json={"status": "Queued until a worker runs"})
    connection = await school.db()
    try:
        await connection.execute(
            "INSERT INTO accounts (id, username, domain, actor_id, inbox_url)"
            " VALUES (1, 'ghost', 'district-b.test', 'https://district-b.test/u/ghost',"
            " 'https://district-b.test/u/ghost/inbox')"
        )
        await connection.execute(
            "INSERT INTO follows (id, account_id, target_account_id, accepted)"
            " SELECT 2, 1, id, true FROM accounts WHERE username = 'alice'"
        )
        await alice.post("/api/v1/statuses", json={"status": "For the ghost follower"})
        await asyncio.sleep(1)
        queued = await connection.fetchval(
            "SELECT count(*) FROM deliveries WHERE state = 'queued' AND attempts = 0"
        )
    finally:
        await connection.close()
    assert queued == 1
