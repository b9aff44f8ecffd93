"""Reading and writing the mentoring offer of an actor document, including
remote offers with values of the wrong type."""

import logging

from actors.mentoring import parse_mentoring, render_mentoring
from actors.person import parse_actor


def offer(**changes: object) -> dict:
    mentoring = render_mentoring(
        open=True,
        subjects=["Maths"],
        grade_levels=["6"],
        capacity=3,
        free_places=2,
        note="Ratios",
    )
    mentoring.update(changes)
    return {"mentoring": mentoring}


def test_offer_round_trip():
    parsed = parse_mentoring(offer())

    assert parsed is not None
    assert parsed.open is True
    assert parsed.subjects == ["Maths"]
    assert parsed.grade_levels == ["6"]
    assert parsed.capacity == 3
    assert parsed.free_places == 2
    assert parsed.note == "Ratios"


def test_full_offer_rendered_closed():
    rendered = render_mentoring(
        open=True, subjects=[], grade_levels=[], capacity=2, free_places=0, note=""
    )

    assert rendered["openToMentoring"] is False
    assert rendered["freePlaces"] == 0


def test_offer_without_free_place_read_closed():
    parsed = parse_mentoring(offer(freePlaces=0))

    assert parsed is not None
    assert parsed.open is False


def test_offer_wrong_types_read_closed(caplog):
    document = offer(
        openToMentoring="yes",
        mentoringCapacity="3",
        freePlaces=True,
        teachingSubjects="Art",
        summary=["not text"],
    )
    document["id"] = "https://b.test/users/erin"

    with caplog.at_level(logging.INFO, logger="actors.mentoring"):
        parsed = parse_mentoring(document)

    assert parsed is not None
    assert parsed.open is False
    assert parsed.capacity == 0
    assert parsed.subjects == ["Art"]
    assert parsed.note == ""
    assert "https://b.test/users/erin: mentoringCapacity is str" in caplog.text
    assert "freePlaces is bool" in caplog.text


def test_offer_counts_bounded():
    parsed = parse_mentoring(offer(mentoringCapacity=5000, freePlaces=9000))

    assert parsed is not None
    assert parsed.capacity == 100
    assert parsed.free_places == 100


def test_offer_summary_html_stripped():
    parsed = parse_mentoring(offer(summary="<script>x()</script><b>Hi</b>"))

    assert parsed is not None
    assert "<" not in parsed.note


def test_offer_absent_or_other_type():
    assert parse_mentoring({}) is None
    assert parse_mentoring({"mentoring": "yes"}) is None
    assert parse_mentoring(offer(type="Note")) is None


def test_actor_carries_offer():
    document = {
        "id": "https://b.test/users/erin",
        "type": "Person",
        "preferredUsername": "erin",
        "inbox": "https://b.test/users/erin/inbox",
        **offer(),
    }

    actor = parse_actor(document)

    assert actor.mentoring is not None
    assert actor.mentoring.subjects == ["Maths"]
