"""``pedagogue export`` on one live instance and ``pedagogue import`` on another.

The commands run as the operator would run them, in processes of their own
against each instance's database, while the instances serve.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from tests.e2e.peers import follow, post
from tests.support.live import LiveInstance, Teacher, eventually

PLANS = "/api/pedagogue/v1/lesson_plans"
PLAN = {
    "title": "Ratios with recipe cards",
    "summary": "Students scale recipes to reason about equivalent ratios.",
    "body": "## Warm-up\n\nDouble a pancake recipe.",
    "subjects": ["Mathematics"],
    "grade_levels": ["6-8"],
    "duration_minutes": 45,
}
FOLLOWING_HEADER = "Account address,Show boosts,Notify on new posts,Languages"
COMMAND_TIMEOUT = 60


def run_command(
    instance: LiveInstance, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """Run ``pedagogue ARGUMENTS`` against the instance's database and settings."""
    command = [
        sys.executable,
        "-m",
        "pedagogue.cli",
        "--url",
        instance.url,
        "--database-url",
        instance.dsn,
        "--data-dir",
        str(instance.directory / "data"),
        *arguments,
    ]
    return subprocess.run(
        command,
        check=False,
        env=instance.environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


async def run(
    instance: LiveInstance, *arguments: str
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_command, instance, *arguments)


def avatar_png() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 90, 200)).save(output, format="PNG")
    return output.getvalue()


async def set_profile(teacher: Teacher) -> None:
    form = aiohttp.FormData()
    form.add_field("display_name", "Alice Archer")
    form.add_field("note", "Maths teacher, Year 7 lead.")
    form.add_field("avatar", avatar_png(), filename="me.png", content_type="image/png")
    status, body = await teacher.request(
        "PATCH", "/api/v1/accounts/update_credentials", data=form
    )
    assert status == 200, body


async def rows(instance: LiveInstance, query: str, *args: Any) -> list[Any]:
    connection = await instance.db()
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def local_posts(instance: LiveInstance, teacher: Teacher) -> list[Any]:
    return await rows(
        instance,
        "SELECT content, visibility, created_at FROM statuses"
        " WHERE account_id = $1 AND object_type = 'Note' AND deleted_at IS NULL"
        " ORDER BY created_at, id",
        int(teacher.account_id),
    )


async def test_export_import_round_trip(start_instances: Any, tmp_path: Path) -> None:
    school, district = await start_instances("school-a.test", "district-b.test")
    alice = await school.create_teacher("alice")
    carl = await school.create_teacher("carl")
    bob = await district.create_teacher("bob")
    anna = await district.create_teacher("anna")
    await set_profile(alice)
    await post(alice, "Exit tickets sorted by misconception #assessment")
    await post(alice, "Only for my followers", visibility="private")
    await post(alice, "Only for this instance", visibility="local")
    await post(alice, f"@{carl.handle} a direct note", visibility="direct")
    status, plan = await alice.request("POST", PLANS, json=PLAN)
    assert status == 200, plan
    await follow(alice, bob)
    await follow(alice, carl)
    archive_path = tmp_path / "alice.zip"

    exported = await run(school, "export", "alice", "--output", str(archive_path))

    assert exported.returncode == 0, exported.stderr
    archive = zipfile.ZipFile(archive_path)
    names = set(archive.namelist())
    for name in ("actor.json", "outbox.json", "following_accounts.csv"):
        assert name in names
    actor = json.loads(archive.read("actor.json"))
    outbox = json.loads(archive.read("outbox.json"))
    following = archive.read("following_accounts.csv").decode().splitlines()
    assert actor["id"] == alice.actor_id
    assert actor["name"] == "Alice Archer"
    assert actor["icon"]["url"] in names
    assert outbox["type"] == "OrderedCollection"
    assert outbox["totalItems"] == 5
    object_types = sorted(item["object"]["type"] for item in outbox["orderedItems"])
    assert object_types == ["Article", "Note", "Note", "Note", "Note"]
    assert following[0] == FOLLOWING_HEADER
    addresses = {row[0] for row in csv.reader(following[1:])}
    assert addresses == {bob.handle, carl.handle}
    assert [name for name in names if name.startswith("lesson_plans/")]
    original_posts = await local_posts(school, alice)

    imported = await run(district, "import", "anna", str(archive_path))

    assert imported.returncode == 0, imported.stderr
    assert "3 posts" in imported.stdout
    assert "1 lesson plans" in imported.stdout
    profile = await anna.get(f"/api/v1/accounts/{anna.account_id}")
    assert profile["display_name"] == "Alice Archer"
    assert "Year 7 lead" in profile["note"]
    assert profile["avatar"].startswith(f"{district.url}/media/")
    posts = await local_posts(district, anna)
    # ActivityPub's published times carry whole seconds.
    assert [row["created_at"] for row in posts] == [
        row["created_at"].replace(microsecond=0)
        for row in original_posts
        if row["visibility"] != "direct"
    ]
    assert [row["visibility"] for row in posts] == ["public", "private", "local"]
    assert "assessment" in posts[0]["content"]
    plans = await rows(
        district,
        "SELECT title FROM lesson_plans WHERE account_id = $1",
        int(anna.account_id),
    )
    assert [row["title"] for row in plans] == [PLAN["title"]]
    # bob is local to district-b; carl gets a Follow from district-b.
    assert await eventually(lambda: _follows(district, anna, bob.actor_id))
    assert await eventually(
        lambda: _follows(district, anna, carl.actor_id, accepted=True)
    )
    carl_followers = await rows(
        school,
        "SELECT a.actor_id FROM follows f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.target_account_id = $1 AND f.accepted",
        int(carl.account_id),
    )
    assert anna.actor_id in {row["actor_id"] for row in carl_followers}

    again = await run(district, "import", "anna", str(archive_path))

    assert again.returncode == 0, again.stderr
    assert len(await local_posts(district, anna)) == 3
    plans_again = await rows(
        district,
        "SELECT 1 FROM lesson_plans WHERE account_id = $1",
        int(anna.account_id),
    )
    assert len(plans_again) == 1


async def _follows(
    instance: LiveInstance,
    follower: Teacher,
    target_actor_id: str,
    accepted: bool = False,
) -> bool:
    found = await rows(
        instance,
        "SELECT f.accepted FROM follows f JOIN accounts t ON t.id = f.target_account_id"
        " WHERE f.account_id = $1 AND t.actor_id = $2",
        int(follower.account_id),
        target_actor_id,
    )
    return bool(found) and (found[0]["accepted"] or not accepted)


async def test_import_rejects_non_archive(start_instances: Any, tmp_path: Path) -> None:
    (school,) = await start_instances("school-a.test")
    await school.create_teacher("alice")
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not a zip file at all")

    result = await run(school, "import", "alice", str(bogus))

    assert result.returncode == 1
    assert "not a ZIP archive" in result.stderr


async def test_export_unknown_teacher(start_instances: Any, tmp_path: Path) -> None:
    (school,) = await start_instances("school-a.test")

    result = await run(school, "export", "nobody", "--output", str(tmp_path / "x.zip"))

    assert result.returncode == 1
    assert "no local teacher named nobody" in result.stderr
