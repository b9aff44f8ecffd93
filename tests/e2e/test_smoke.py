from tests.support.live import eventually


async def test_follow_and_post_reach_remote_home(start_instances):
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    bob = await district.create_teacher("bob")

    remote_bob = await alice.resolve(f"@{bob.handle}")
    await alice.post(f"/api/v1/accounts/{remote_bob['id']}/follow")

    async def accepted():
        relations = await alice.get("/api/v1/accounts/relationships", params={"id[]": remote_bob["id"]})
        return relations[0]["following"]

    assert await eventually(accepted)
    await bob.post("/api/v1/statuses", json={"status": "Fractions lesson tomorrow"})

    async def arrived():
        home = await alice.get("/api/v1/timelines/home")
        return [s for s in home if "Fractions" in s["content"]]

    assert await eventually(arrived)
