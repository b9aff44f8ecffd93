"""Pedagogue's namespace: one IRI, the served context equal to the bundled
one, and terms understood whatever prefix a peer binds the IRI to."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from actors.pedagogue import (
    NAMESPACE,
    compact_terms,
    context_document,
    full_context,
    parse_offer,
)
from federation import jsonld
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime

AS = "https://www.w3.org/ns/activitystreams"
MENTEE = "https://peer.test/users/mentee"
MENTOR = "https://school-a.test/users/mentor"


def _bundled() -> dict:
    text = resources.files("federation").joinpath("contexts", "pedagogue.jsonld")
    return json.loads(text.read_text())


def test_every_term_expands_into_namespace() -> None:
    terms = [key for key in _bundled()["@context"] if key not in ("pdg", "as", "xsd")]
    document = {
        "@context": _bundled()["@context"],
        "@id": "https://peer.test/x",
        **{term: "value" for term in terms if term[0].islower()},
    }
    expanded = jsonld.expand(document)[0]
    properties = [key for key in expanded if not key.startswith("@")]
    assert len(properties) == len([term for term in terms if term[0].islower()])
    assert all(key.startswith(NAMESPACE) for key in properties)


def test_offer_with_other_prefix_understood() -> None:
    offer = {
        "@context": [AS, {"ped": NAMESPACE}],
        "id": "https://peer.test/activities/1",
        "type": "Offer",
        "actor": MENTEE,
        "object": {
            "id": "https://peer.test/mentorships/1",
            "type": "ped:Mentorship",
            "subject": MENTEE,
            "relationship": f"{NAMESPACE}mentoredBy",
            "object": MENTOR,
            "content": "Could you help with lab safety?",
            "ped:teachingSubjects": ["Chemistry"],
        },
        "target": MENTOR,
    }
    parsed = parse_offer(offer, MENTEE)
    assert parsed.mentor_id == MENTOR
    assert parsed.subjects == ["Chemistry"]


def test_full_iris_compact_to_our_terms() -> None:
    document = {
        "@context": AS,
        "id": "https://peer.test/users/t",
        "type": "Person",
        f"{NAMESPACE}gradeLevels": ["6-8"],
        f"{NAMESPACE}school": "Hill School",
    }
    compacted = compact_terms(document)
    assert compacted["gradeLevels"] == ["6-8"]
    assert compacted["school"] == "Hill School"


def test_unbundled_context_left_unchanged() -> None:
    document = {"@context": "https://unknown.test/ctx", "id": "https://peer.test/x"}
    assert compact_terms(document) is document


async def test_served_context_equals_bundled(database: str, tmp_path: Path) -> None:
    from web.app import create_app

    settings = load_settings(
        None,
        overrides={
            "instance": {"url": "https://school-a.test", "data_dir": str(tmp_path)}
        },
        environ={},
    )
    runtime = Runtime(settings, database)
    await runtime.start()
    try:
        response = await create_app(runtime).test_client().get("/ns/pedagogue.jsonld")
        served = await response.get_json(force=True)
    finally:
        await runtime.stop()
    assert served == _bundled()
    assert served == context_document()
    assert served["@context"]["pdg"] == NAMESPACE


def test_actor_terms_with_other_prefix_understood() -> None:
    from actors.person import parse_actor

    document = {
        "@context": [AS, "https://w3id.org/security/v1", {"ped": NAMESPACE}],
        "id": "https://peer.test/users/rosa",
        "type": "Person",
        "preferredUsername": "rosa",
        "inbox": "https://peer.test/users/rosa/inbox",
        "ped:teachingSubjects": ["Chemistry"],
        "ped:gradeLevels": ["9-12"],
        "ped:school": "Hill School",
        "ped:mentoring": {
            "type": "ped:MentoringOffer",
            "ped:openToMentoring": True,
            "ped:mentoringCapacity": 2,
            "ped:freePlaces": 1,
        },
    }
    actor = parse_actor(document, fetched_from=document["id"])
    assert actor.subjects == ["Chemistry"]
    assert actor.grade_levels == ["9-12"]
    assert actor.school == "Hill School"
    assert actor.mentoring is not None
    assert actor.mentoring.open is True
    assert actor.mentoring.free_places == 1


def test_own_documents_round_trip_terms() -> None:
    document = {
        "@context": full_context(),
        "id": "https://school-a.test/users/ana",
        "type": "Person",
        "mentoring": {
            "type": "MentoringOffer",
            "openToMentoring": True,
            "mentoringCapacity": 3,
        },
    }
    compacted = compact_terms(document)
    assert compacted["mentoring"]["openToMentoring"] is True
    assert compacted["mentoring"]["mentoringCapacity"] == 3
