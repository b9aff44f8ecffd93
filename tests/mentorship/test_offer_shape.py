"""Reading received mentorship Offers: the Pedagogue shape, a plain
Relationship, and the Offers that are rejected."""

import pytest

from actors.pedagogue import (
    MENTORED_BY,
    InvalidOffer,
    parse_offer,
    render_mentorship,
    render_offer,
)

MENTEE = "https://a.test/users/mentee"
MENTOR = "https://b.test/users/mentor"


def offer(**changes: object) -> dict:
    mentorship = render_mentorship(
        "https://a.test/mentorships/1", MENTEE, MENTOR, "Hello", ["Maths"]
    )
    document = render_offer("https://a.test/activities/1", MENTEE, MENTOR, mentorship)
    document["object"].update(changes)
    return document


def test_offer_round_trip():
    parsed = parse_offer(offer(), MENTEE)

    assert parsed.mentorship_id == "https://a.test/mentorships/1"
    assert parsed.mentor_id == MENTOR
    assert parsed.message == "Hello"
    assert parsed.subjects == ["Maths"]


def test_offer_of_plain_relationship_read():
    parsed = parse_offer(offer(type="Relationship", relationship=MENTORED_BY), MENTEE)

    assert parsed.mentee_id == MENTEE


@pytest.mark.parametrize(
    ("changes", "sender", "message"),
    [
        ({"type": "Note"}, MENTEE, "does not offer a Mentorship"),
        ({"subject": "https://c.test/users/x"}, MENTEE, "is not the sender"),
        ({}, "https://c.test/users/x", "is not the sender"),
        ({"object": None}, MENTEE, "lacks id, subject or object"),
    ],
)
def test_offer_invalid_rejected(changes, sender, message):
    with pytest.raises(InvalidOffer, match=message):
        parse_offer(offer(**changes), sender)


def test_offer_target_other_than_mentor_rejected():
    document = offer()
    document["target"] = "https://c.test/users/other"

    with pytest.raises(InvalidOffer, match="is not the mentor"):
        parse_offer(document, MENTEE)
