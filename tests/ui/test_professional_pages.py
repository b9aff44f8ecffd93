"""Lesson plans, groups, events, search, settings and admin pages in a real
browser, against two live instances kept for the whole module."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.ui.conftest import (
    UiInstance,
    screenshot,
    serious_violations,
    sign_in,
    start_ui_instances,
    stop_ui_instances,
)

PLAN_URL = re.compile(r"/plans/\d+$")


@pytest.fixture(scope="module")
async def network(databases: Any, pki: Any, tmp_path_factory: Any) -> AsyncIterator[tuple[UiInstance, UiInstance]]:
    school, district = await start_ui_instances(
        databases,
        pki,
        tmp_path_factory.mktemp("ui-pages"),
        ("school-a.test", "district-b.test"),
    )
    await school.add_teacher("alice", admin=True)
    await school.add_teacher("carol")
    await district.add_teacher("bob")
    yield school, district
    await stop_ui_instances(databases, [school, district])


@pytest.fixture
async def alice(network: Any, context: Any) -> Any:
    page = await context.new_page()
    await sign_in(page, network[0], "alice")
    return page


@pytest.fixture
async def carol(network: Any, browser: Any) -> AsyncIterator[Any]:
    carol_context = await browser.new_context(ignore_https_errors=True)
    page = await carol_context.new_page()
    await sign_in(page, network[0], "carol")
    yield page
    await carol_context.close()


async def _publish_plan(page: Any, instance: UiInstance, title: str) -> str:
    await page.goto(f"{instance.url}/plans/new")
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Summary").fill("Students scale a recipe to reason about ratios.")
    await page.get_by_label("Lesson (Markdown)").fill("## Warm-up\n\nDouble a pancake recipe.")
    await page.get_by_label("Subjects, one a line").fill("Mathematics")
    await page.get_by_label("Grade levels, one a line").fill("6")
    await page.get_by_label("Duration in minutes").fill("45")
    await page.get_by_label("Objectives, one a line").fill("Describe a ratio in words")
    await page.get_by_label("Materials, one a line").fill("Recipe cards\nMarkers")
    await page.get_by_label(re.compile("^Standards")).fill("CCSS 6.RP.A.1")
    await page.get_by_label("Licence").select_option("CC-BY-4.0")
    await page.get_by_role("button", name="Publish").click()
    await page.wait_for_url(PLAN_URL)
    return str(page.url)


async def test_plan_page_shows_every_field(network: Any, alice: Any) -> None:
    school, _ = network
    await _publish_plan(alice, school, "Ratios with recipe cards")
    fields = await alice.locator("dl.plan-fields").inner_text()
    for expected in ("Mathematics", "45 minutes", "CCSS 6.RP.A.1", "CC BY 4.0"):
        assert expected in fields, fields
    assert "Double a pancake recipe." in await alice.locator("article.plan .content").inner_text()
    assert await alice.get_by_role("listitem").filter(has_text="Recipe cards").count() == 1
    await screenshot(alice, "lesson-plan")
    assert await serious_violations(alice) == []


async def test_plan_form_has_no_serious_violations(network: Any, alice: Any) -> None:
    await alice.goto(f"{network[0].url}/plans/new")
    assert await serious_violations(alice) == []


async def test_plan_form_rejects_a_missing_title(network: Any, alice: Any) -> None:
    await alice.goto(f"{network[0].url}/plans/new")
    await alice.get_by_label("Title").evaluate("field => field.removeAttribute('required')")
    await alice.get_by_role("button", name="Publish").click()
    alert = alice.get_by_role("alert")
    await alert.wait_for()
    assert "title" in await alert.inner_text()


async def test_adaptation_links_to_original(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    original = await _publish_plan(alice, school, "Fractions on a number line")
    await carol.goto(original)
    await carol.get_by_role("link", name="Adapt").click()
    await carol.get_by_label("Title").fill("Fractions on a number line, grade 4")
    await carol.get_by_role("button", name="Publish").click()
    await carol.wait_for_url(PLAN_URL)
    chain = carol.get_by_role("navigation", name="Adapted from")
    await chain.get_by_role("link", name="Fractions on a number line").click()
    assert carol.url == original


async def test_original_lists_its_adaptation(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    original = await _publish_plan(alice, school, "Area with grid paper")
    await carol.goto(original)
    await carol.get_by_role("link", name="Adapt").click()
    await carol.get_by_label("Title").fill("Area with grid paper and tiles")
    await carol.get_by_role("button", name="Publish").click()
    await carol.wait_for_url(PLAN_URL)
    await alice.goto(original)
    adaptations = alice.locator("section", has=alice.get_by_role("heading", name="Adaptations"))
    assert await adaptations.get_by_role("link", name="Area with grid paper and tiles").count() == 1


async def test_editing_a_plan_keeps_a_revision(network: Any, alice: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Volume with cubes")
    await alice.get_by_role("link", name="Edit").click()
    await alice.get_by_label("Title").fill("Volume with centimetre cubes")
    await alice.get_by_role("button", name="Save changes").click()
    await alice.wait_for_url(url)
    assert await alice.get_by_role("heading", name="Volume with centimetre cubes").count() == 1
    revisions = alice.locator("section", has=alice.get_by_role("heading", name="Earlier revisions"))
    assert await revisions.locator("time").count() >= 1


async def test_only_the_author_sees_the_edit_link(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Perimeter walk")
    await carol.goto(url)
    assert await carol.get_by_role("link", name="Edit").count() == 0


async def test_saved_plan_appears_in_my_collections(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Probability with dice")
    await carol.goto(url)
    await carol.get_by_label("Or a new collection named").fill("Year 6 ideas")
    await carol.get_by_role("button", name="Save").click()
    await carol.wait_for_url(url)
    await carol.goto(f"{school.url}/collections")
    section = carol.locator("section", has=carol.get_by_role("heading", name="Year 6 ideas"))
    assert await section.get_by_role("link", name="Probability with dice").count() == 1
    assert await serious_violations(carol) == []


GROUP_URL = re.compile(r"/groups/\d+$")


async def _create_group(page: Any, instance: UiInstance, name: str, approval: bool = False) -> str:
    await page.goto(f"{instance.url}/groups")
    await page.get_by_label("Name in the handle").fill(name)
    await page.get_by_label("Display name").fill(name.replace("_", " ").title())
    await page.get_by_label("Description").fill("Teachers sharing science practicals.")
    await page.get_by_label("Rules").fill("Be kind.\nNo student names.")
    await page.get_by_label("Subjects, separated by commas").fill("Science")
    if approval:
        await page.get_by_label("Moderators approve new members").check()
    await page.get_by_role("button", name="Create group").click()
    await page.wait_for_url(GROUP_URL)
    return str(page.url)


async def test_group_page_shows_rules_and_moderators(network: Any, alice: Any) -> None:
    await _create_group(alice, network[0], "science_practicals")
    rules = alice.locator("ol.rules li")
    assert await rules.all_inner_texts() == ["Be kind.", "No student names."]
    moderators = alice.locator("aside", has=alice.get_by_role("heading", name="Moderators"))
    assert "(owner)" in await moderators.inner_text()
    await screenshot(alice, "group")
    assert await serious_violations(alice) == []


async def test_group_directory_lists_a_new_group(network: Any, alice: Any) -> None:
    await _create_group(alice, network[0], "early_reading")
    await alice.goto(f"{network[0].url}/groups")
    assert await alice.get_by_role("link", name="Early Reading").count() == 1
    assert await serious_violations(alice) == []


async def test_join_request_approved_by_moderator(network: Any, alice: Any, carol: Any) -> None:
    url = await _create_group(alice, network[0], "maths_leads", approval=True)
    await carol.goto(url)
    await carol.get_by_role("button", name="Ask to join").click()
    await carol.get_by_text("Your request to join is waiting").wait_for()
    await alice.goto(url)
    await alice.get_by_role("button", name=re.compile("^Approve")).click()
    await alice.wait_for_url(url)
    await carol.goto(url)
    assert await carol.get_by_text("You are a member.").count() == 1


async def test_member_post_removed_by_moderator(network: Any, alice: Any, carol: Any) -> None:
    url = await _create_group(alice, network[0], "geography_trips")
    await carol.goto(url)
    await carol.get_by_role("button", name="Join group").click()
    await carol.get_by_text("You are a member.").wait_for()
    await carol.get_by_label("Post", exact=True).press_sequentially("Field trip checklist ready.")
    await carol.get_by_role("button", name="Post", exact=True).click()
    await carol.wait_for_url(url)
    await alice.goto(url)
    posts = alice.locator("section.feed article.status", has_text="Field trip checklist ready.")
    assert await posts.count() == 1
    alice.once("dialog", lambda dialog: dialog.accept())
    await alice.get_by_role("button", name="Remove from group").click()
    await alice.wait_for_url(url)
    assert await posts.count() == 0


async def test_moderator_removes_a_member(network: Any, alice: Any, carol: Any) -> None:
    url = await _create_group(alice, network[0], "history_club")
    await carol.goto(url)
    await carol.get_by_role("button", name="Join group").click()
    await carol.get_by_text("You are a member.").wait_for()
    await alice.goto(url)
    alice.once("dialog", lambda dialog: dialog.accept())
    await alice.get_by_role("button", name=re.compile("^Remove carol")).click()
    await alice.wait_for_url(url)
    await carol.goto(url)
    assert await carol.get_by_text("A moderator removed you from this group.").count() == 1


EVENT_URL = re.compile(r"/events/\d+$")


async def _organise(page: Any, instance: UiInstance, name: str) -> str:
    await page.goto(f"{instance.url}/events/new")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Description").fill("An hour of shared practice.")
    await page.get_by_label("Starts").fill("2031-03-04T16:00")
    await page.get_by_label("Ends").fill("2031-03-04T17:00")
    await page.get_by_label("Time zone of these times").select_option("Europe/London")
    await page.get_by_label("Place (optional)").fill("Library, room 2")
    await page.get_by_role("button", name="Publish event").click()
    await page.wait_for_url(EVENT_URL)
    return str(page.url)


async def test_event_page_shows_time_and_place(network: Any, alice: Any) -> None:
    await _organise(alice, network[0], "Assessment moderation afternoon")
    details = await alice.locator("dl.plan-fields").inner_text()
    assert "Library, room 2" in details
    assert "2031" in details
    await screenshot(alice, "event")
    assert await serious_violations(alice) == []


async def test_event_list_links_the_event_and_feed(network: Any, alice: Any) -> None:
    await _organise(alice, network[0], "Phonics coffee morning")
    await alice.goto(f"{network[0].url}/events")
    assert await alice.get_by_role("link", name="Phonics coffee morning").count() == 1
    feed = alice.get_by_role("link", name="Subscribe to this server's events (iCalendar)")
    # Playwright's request client does not use Chromium's host rules, so it
    # connects by address.
    response = await alice.request.get(network[0].client_url + await feed.get_attribute("href"))
    assert "Phonics coffee morning" in await response.text()
    assert await serious_violations(alice) == []


async def test_rsvp_going_then_not_going(network: Any, alice: Any, carol: Any) -> None:
    url = await _organise(alice, network[0], "Reading recovery clinic")
    await carol.goto(url)
    await carol.get_by_role("button", name="Going", exact=True).click()
    await carol.get_by_text("You are going.").wait_for()
    going = carol.locator("dl.plan-fields dd").nth(-1)
    assert (await going.inner_text()).startswith("1")
    await carol.get_by_role("button", name="Not going").click()
    await carol.get_by_role("button", name="Going", exact=True).wait_for()
    assert (await going.inner_text()).startswith("0")


async def test_organiser_edits_and_cancels(network: Any, alice: Any, carol: Any) -> None:
    url = await _organise(alice, network[0], "Data drop review")
    await alice.get_by_role("link", name="Edit event").click()
    await alice.get_by_label("Name").fill("Data drop review, term 2")
    await alice.get_by_role("button", name="Save changes").click()
    await alice.wait_for_url(url)
    assert await alice.get_by_role("heading", name="Data drop review, term 2").count() == 1
    alice.once("dialog", lambda dialog: dialog.accept())
    await alice.get_by_role("button", name="Cancel event").click()
    await alice.get_by_text("This event was cancelled.").wait_for()
    await carol.goto(url)
    assert await carol.get_by_role("link", name="Edit event").count() == 0


async def test_search_filters_plans_by_subject(network: Any, alice: Any) -> None:
    school, _ = network
    await _publish_plan(alice, school, "Circuits with paper clips")
    await alice.goto(f"{school.url}/search")
    await alice.get_by_label("Subject").fill("Mathematics")
    await alice.get_by_role("button", name="Search", exact=True).click()
    plans = alice.locator("section", has=alice.get_by_role("heading", name="Lesson plans"))
    await plans.wait_for()
    assert await plans.get_by_role("link", name="Circuits with paper clips").count() == 1
    assert await serious_violations(alice) == []


async def test_search_finds_teacher_and_group(network: Any, alice: Any) -> None:
    school, _ = network
    await _create_group(alice, school, "carol_fans")
    await alice.goto(f"{school.url}/search?q=carol")
    people = alice.locator("section", has=alice.get_by_role("heading", name="Teachers"))
    assert await people.get_by_role("link", name=re.compile("Carol")).count() == 1
    found_groups = alice.locator("section", has=alice.get_by_role("heading", name="Groups"))
    assert await found_groups.get_by_role("link", name="Carol Fans").count() == 1


async def test_search_follows_a_hashtag(network: Any, alice: Any) -> None:
    await alice.goto(f"{network[0].url}/search?q=%23fractions")
    await alice.get_by_role("button", name="Follow hashtag").click()
    await alice.get_by_role("button", name="Unfollow hashtag").wait_for()
    followed = alice.locator("section", has=alice.get_by_role("heading", name="Hashtags you follow"))
    assert await followed.get_by_role("link", name="#fractions").count() == 1


async def test_mentor_request_accepted(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    await carol.goto(f"{school.url}/mentors")
    await carol.get_by_label("I am open to mentoring").check()
    await carol.get_by_label("Subjects, separated by commas").fill("Science")
    await carol.get_by_label("Places").fill("2")
    await carol.get_by_role("button", name="Save offer").click()
    await carol.wait_for_url(f"{school.url}/mentors")
    await alice.goto(f"{school.url}/mentors")
    assert await serious_violations(alice) == []
    card = alice.locator("article.mentor", has_text="Carol")
    await card.get_by_label("Message").fill("Could you help with practical work?")
    await card.get_by_role("button", name=re.compile("^Ask for mentoring")).click()
    await alice.wait_for_url(f"{school.url}/mentorships")
    assert await alice.get_by_text("Waiting for an answer").count() == 1
    await carol.goto(f"{school.url}/mentorships")
    await carol.get_by_role("button", name="Accept").click()
    await carol.get_by_text("Accepted").first.wait_for()
    assert await serious_violations(carol) == []
    await alice.reload()
    assert await alice.get_by_role("button", name="End mentorship").count() == 1


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201ffa0b9"
    "e2c70000000049454e44ae426082"
)


async def test_profile_settings_show_on_profile(network: Any, carol: Any, tmp_path: Any) -> None:
    school, _ = network
    avatar = tmp_path / "avatar.png"
    avatar.write_bytes(PNG_1PX)
    await carol.goto(f"{school.url}/settings/profile")
    assert await serious_violations(carol) == []
    await carol.get_by_label("Display name").fill("Carol Osei")
    await carol.get_by_label("Bio").fill("Chemistry teacher and lab safety lead.")
    await carol.get_by_label("School").fill("Lincoln Middle School")
    await carol.get_by_label("Pronouns").fill("she/her")
    await carol.get_by_label("Label 1").fill("Department")
    await carol.get_by_label("Content 1").fill("Science")
    await carol.get_by_label("Avatar (PNG, JPEG, GIF or WebP)").set_input_files(str(avatar))
    await carol.get_by_role("button", name="Save profile").click()
    await carol.get_by_text("Your profile has been saved.").wait_for()
    assert await carol.get_by_label("Content 1").input_value() == "Science"
    await carol.goto(f"{school.url}/@carol")
    profile = await carol.locator("main").inner_text()
    assert "Chemistry teacher and lab safety lead." in profile
    assert "Carol Osei" in profile


async def test_privacy_setting_requires_follow_approval(network: Any, carol: Any) -> None:
    school, _ = network
    await carol.goto(f"{school.url}/settings/profile")
    await carol.get_by_label("Approve each new follower by hand").check()
    await carol.get_by_role("button", name="Save privacy settings").click()
    await carol.get_by_text("Your privacy settings have been saved.").wait_for()
    approves = await school.fetchval(
        "SELECT manually_approves_followers FROM accounts WHERE username = 'carol' AND domain IS NULL"
    )
    assert approves is True
    await carol.get_by_label("Approve each new follower by hand").uncheck()
    await carol.get_by_role("button", name="Save privacy settings").click()
    await carol.get_by_text("Your privacy settings have been saved.").wait_for()


async def test_admin_suspends_then_restores(network: Any, alice: Any, browser: Any) -> None:
    school, _ = network
    await school.add_teacher("dave")
    await alice.goto(f"{school.url}/admin/users?q=dave")
    assert await serious_violations(alice) == []
    alice.once("dialog", lambda dialog: dialog.accept())
    await alice.get_by_role("button", name="Suspend dave").click()
    await alice.get_by_role("button", name="Lift suspension dave").wait_for()
    dave_context = await browser.new_context(ignore_https_errors=True)
    try:
        dave = await dave_context.new_page()
        await dave.goto(f"{school.url}/sign-in")
        await dave.get_by_label("Username").fill("dave")
        await dave.get_by_label("Password").fill("correct horse battery")
        await dave.get_by_role("button", name="Sign in").click()
        assert await dave.get_by_text("This account is suspended.").count() == 1
        await alice.get_by_role("button", name="Lift suspension dave").click()
        await alice.get_by_role("button", name="Suspend dave").wait_for()
        await sign_in(dave, school, "dave")
    finally:
        await dave_context.close()


async def test_admin_issues_a_reset_link(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/admin/users?q=carol")
    await alice.get_by_role("button", name="Reset link carol").click()
    assert await alice.get_by_text("/reset-password/").count() >= 1


async def test_admin_instance_page_shows_configuration(network: Any, alice: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/admin/instance")
    instance = alice.locator("section", has=alice.get_by_role("heading", name="[instance]"))
    assert school.url in await instance.inner_text()
    assert await alice.get_by_role("heading", name="[database]").count() == 0
    assert await serious_violations(alice) == []


async def test_admin_pages_reject_teachers(network: Any, carol: Any) -> None:
    response = await carol.goto(f"{network[0].url}/admin/users")
    assert response.status == 403


async def test_plan_attachment_added_and_removed(network: Any, alice: Any, tmp_path: Any) -> None:
    school, _ = network
    worksheet = tmp_path / "worksheet.png"
    worksheet.write_bytes(PNG_1PX)
    await alice.goto(f"{school.url}/plans/new")
    await alice.get_by_label("Title").fill("Shapes in the playground")
    await alice.get_by_label("Add files (worksheets, slides, images)").set_input_files(str(worksheet))
    await alice.get_by_role("button", name="Publish").click()
    await alice.wait_for_url(PLAN_URL)
    url = alice.url
    attachments = alice.locator("article.plan", has=alice.get_by_role("heading", name="Attachments"))
    assert await attachments.get_by_role("link", name="worksheet.png").count() == 1
    await alice.get_by_role("link", name="Edit").click()
    await alice.get_by_label("Remove worksheet.png").check()
    await alice.get_by_role("button", name="Save changes").click()
    await alice.wait_for_url(url)
    assert await alice.get_by_role("link", name="worksheet.png").count() == 0


async def test_profile_lists_public_plans(network: Any, alice: Any, browser: Any) -> None:
    school, _ = network
    await _publish_plan(alice, school, "Weather diaries")
    visitor_context = await browser.new_context(ignore_https_errors=True)
    try:
        visitor = await visitor_context.new_page()
        await visitor.goto(f"{school.url}/@alice")
        plans = visitor.locator("section", has=visitor.get_by_role("heading", name="Lesson plans"))
        assert await plans.get_by_role("link", name="Weather diaries").count() == 1
    finally:
        await visitor_context.close()


async def test_collection_item_removed_then_deleted(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Sound with string telephones")
    await carol.goto(url)
    await carol.get_by_label("Or a new collection named").fill("Sound ideas")
    await carol.get_by_role("button", name="Save").click()
    await carol.wait_for_url(url)
    await carol.goto(f"{school.url}/collections")
    section = carol.locator("section", has=carol.get_by_role("heading", name="Sound ideas"))
    await section.get_by_role("button", name="Remove Sound with string telephones").click()
    await carol.wait_for_url(f"{school.url}/collections")
    assert await section.get_by_role("link", name="Sound with string telephones").count() == 0
    carol.once("dialog", lambda dialog: dialog.accept())
    await section.get_by_role("button", name="Delete collection Sound ideas").click()
    await carol.wait_for_url(f"{school.url}/collections")
    assert await carol.get_by_role("heading", name="Sound ideas").count() == 0


async def test_author_deletes_a_plan(network: Any, alice: Any) -> None:
    school, _ = network
    url = await _publish_plan(alice, school, "Magnets sorting game")
    alice.once("dialog", lambda dialog: dialog.accept())
    await alice.get_by_role("button", name="Delete plan").click()
    await alice.wait_for_url(re.compile(r"/@alice$"))
    response = await alice.goto(url)
    assert response.status == 404


async def test_organiser_accepts_attend_request(network: Any, alice: Any, carol: Any) -> None:
    school, _ = network
    await alice.goto(f"{school.url}/events/new")
    await alice.get_by_label("Name").fill("Lab safety training")
    await alice.get_by_label("Starts").fill("2031-05-06T15:00")
    await alice.get_by_label("Ends").fill("2031-05-06T16:00")
    await alice.get_by_label("Who can attend").select_option("restricted")
    await alice.get_by_role("button", name="Publish event").click()
    await alice.wait_for_url(EVENT_URL)
    url = alice.url
    await carol.goto(url)
    await carol.get_by_label("Message to the organiser (optional)").fill("I run the year 8 labs.")
    await carol.get_by_role("button", name="Ask to attend").click()
    await carol.get_by_text("Your request is waiting for the organiser.").wait_for()
    await alice.goto(url)
    await alice.get_by_role("button", name="Accept carol").click()
    await alice.get_by_role("button", name="Accept carol").wait_for(state="detached")
    await carol.reload()
    assert await carol.get_by_text("You are going.").count() == 1
