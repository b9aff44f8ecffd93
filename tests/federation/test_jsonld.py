"""JSON-LD expansion and compaction with bundled contexts only."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from federation.jsonld import (
    AS_CONTEXT,
    AS_NAMESPACE,
    BUNDLED_CONTEXTS,
    ContextNotBundled,
    InvalidJsonLd,
    compact,
    expand,
    get_context,
    load_document,
)
from tests.fixtures import list_fixtures, load_fixture

TOOT = "http://joinmastodon.org/ns#"
OSTATUS = "http://ostatus.org#"

MASTODON_NOTE_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "ostatus": OSTATUS,
        "atomUri": "ostatus:atomUri",
        "sensitive": "as:sensitive",
        "toot": TOOT,
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
        "Hashtag": "as:Hashtag",
    },
]


def mastodon_note(context: Any = None) -> dict[str, Any]:
    return {
        "@context": MASTODON_NOTE_CONTEXT if context is None else context,
        "id": "https://social.test/users/rosa/statuses/1",
        "type": "Note",
        "summary": "marking",
        "content": "<p>Exit tickets worked.</p>",
        "contentMap": {"en": "<p>Exit tickets worked.</p>"},
        "sensitive": True,
        "atomUri": "https://social.test/users/rosa/statuses/1",
        "attachment": [
            {
                "type": "Document",
                "mediaType": "image/jpeg",
                "url": "https://social.test/media/1.jpeg",
                "blurhash": "UKO2?U%2Tw=w",
                "focalPoint": [-0.12, 0.38],
            }
        ],
        "tag": [
            {
                "type": "Hashtag",
                "href": "https://social.test/tags/assessment",
                "name": "#assessment",
            }
        ],
    }


@pytest.fixture
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Make every socket connection or name lookup fail, and record the attempts."""
    attempts: list[tuple[Any, ...]] = []

    def reject_connection(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network access attempted during a no-network test")

    monkeypatch.setattr(socket.socket, "connect", reject_connection)
    monkeypatch.setattr(socket.socket, "connect_ex", reject_connection)
    monkeypatch.setattr(socket, "create_connection", reject_connection)
    monkeypatch.setattr(socket, "getaddrinfo", reject_connection)
    return attempts


def test_expand_mastodon_note_content_iri() -> None:
    node = expand(mastodon_note())[0]
    assert node[f"{AS_NAMESPACE}content"][0] == {
        "@value": "<p>Exit tickets worked.</p>"
    }


def test_expand_mastodon_note_content_map_language() -> None:
    values = expand(mastodon_note())[0][f"{AS_NAMESPACE}content"]
    assert {"@value": "<p>Exit tickets worked.</p>", "@language": "en"} in values


def test_expand_mastodon_note_type_iri() -> None:
    assert expand(mastodon_note())[0]["@type"] == [f"{AS_NAMESPACE}Note"]


def test_expand_mastodon_note_sensitive_iri() -> None:
    node = expand(mastodon_note())[0]
    assert node[f"{AS_NAMESPACE}sensitive"] == [{"@value": True}]


def test_expand_mastodon_note_atom_uri_iri() -> None:
    node = expand(mastodon_note())[0]
    assert node[f"{OSTATUS}atomUri"] == [
        {"@value": "https://social.test/users/rosa/statuses/1"}
    ]


def test_expand_toot_blurhash_iri() -> None:
    attachment = expand(mastodon_note())[0][f"{AS_NAMESPACE}attachment"][0]
    assert attachment[f"{TOOT}blurhash"] == [{"@value": "UKO2?U%2Tw=w"}]


def test_expand_toot_focal_point_is_list() -> None:
    attachment = expand(mastodon_note())[0][f"{AS_NAMESPACE}attachment"][0]
    assert attachment[f"{TOOT}focalPoint"] == [
        {"@list": [{"@value": -0.12}, {"@value": 0.38}]}
    ]


def test_expand_hashtag_type_iri() -> None:
    tag = expand(mastodon_note())[0][f"{AS_NAMESPACE}tag"][0]
    assert tag["@type"] == [f"{AS_NAMESPACE}Hashtag"]


@pytest.mark.parametrize(
    "extension",
    [
        {"mastodon": TOOT, "blurhash": "mastodon:blurhash"},
        {"tootns": TOOT, "blurhash": {"@id": "tootns:blurhash"}},
        {"blurhash": f"{TOOT}blurhash"},
    ],
    ids=["other-prefix", "expanded-definition", "full-iri"],
)
def test_expand_other_prefix_same_iri(extension: dict[str, Any]) -> None:
    reference = expand(mastodon_note())[0][f"{AS_NAMESPACE}attachment"][0]
    note = mastodon_note([AS_CONTEXT, extension])
    attachment = expand(note)[0][f"{AS_NAMESPACE}attachment"][0]
    assert attachment[f"{TOOT}blurhash"] == reference[f"{TOOT}blurhash"]


def test_expand_full_iri_key_same_as_term() -> None:
    by_term = expand(mastodon_note())[0]
    note = mastodon_note(AS_CONTEXT)
    del note["atomUri"]
    note[f"{OSTATUS}atomUri"] = "https://social.test/users/rosa/statuses/1"
    assert expand(note)[0][f"{OSTATUS}atomUri"] == by_term[f"{OSTATUS}atomUri"]


def test_expand_unknown_context_raises_without_network(
    network_attempts: list[tuple[Any, ...]],
) -> None:
    document = {"@context": "https://contexts.test/unknown.jsonld", "name": "x"}
    with pytest.raises(ContextNotBundled) as raised:
        expand(document)
    assert raised.value.url == "https://contexts.test/unknown.jsonld"
    assert network_attempts == []


def test_expand_unknown_nested_context_raises_without_network(
    network_attempts: list[tuple[Any, ...]],
) -> None:
    document = {
        "@context": [AS_CONTEXT, "https://contexts.test/extra"],
        "type": "Note",
    }
    with pytest.raises(ContextNotBundled):
        expand(document)
    assert network_attempts == []


def test_compact_unknown_context_raises() -> None:
    with pytest.raises(ContextNotBundled):
        compact(mastodon_note(), "https://contexts.test/target")


def test_load_document_unknown_url_raises() -> None:
    with pytest.raises(ContextNotBundled):
        load_document("https://contexts.test/unknown", {})


def test_expand_invalid_context_raises_invalid_jsonld() -> None:
    with pytest.raises(InvalidJsonLd, match="@context must be an object"):
        expand({"@context": 42, "name": "x"})


@pytest.mark.parametrize(
    "url",
    [
        "https://akkoma.test/schemas/litepub-0.1.jsonld",
        "https://pleroma.test:8443/schemas/litepub-0.1.jsonld",
        "http://localhost/schemas/litepub-0.1.jsonld",
    ],
)
def test_get_context_litepub_on_any_host(url: str) -> None:
    assert get_context(url)["@context"][0] == AS_CONTEXT


@pytest.mark.parametrize(
    "url",
    [
        "https://akkoma.test/schemas/litepub-0.2.jsonld",
        "https://akkoma.test/other/schemas/litepub-0.1.jsonld",
        "ftp://akkoma.test/schemas/litepub-0.1.jsonld",
    ],
)
def test_get_context_near_litepub_url_not_bundled(url: str) -> None:
    with pytest.raises(ContextNotBundled):
        get_context(url)


def test_get_context_activitystreams_defines_as_prefix() -> None:
    assert get_context(AS_CONTEXT)["@context"]["as"] == AS_NAMESPACE


def test_get_context_http_activitystreams_alias() -> None:
    alias = get_context("http://www.w3.org/ns/activitystreams")
    assert alias == get_context(AS_CONTEXT)


def test_get_context_returns_independent_copy() -> None:
    first = get_context(AS_CONTEXT)
    first["@context"]["as"] = "https://changed.test/"
    assert get_context(AS_CONTEXT)["@context"]["as"] == AS_NAMESPACE


@pytest.mark.parametrize("url", sorted(BUNDLED_CONTEXTS))
def test_bundled_context_has_context_key(url: str) -> None:
    assert "@context" in get_context(url)


@pytest.mark.parametrize("url", sorted(BUNDLED_CONTEXTS))
def test_bundled_context_expands_offline(
    url: str, network_attempts: list[tuple[Any, ...]]
) -> None:
    # A document using only this context must resolve every context it
    # references (litepub references three more) from the bundle.
    expand({"@context": url, "@id": "https://peer.test/1"})
    assert network_attempts == []


def test_compact_round_trip_content() -> None:
    compacted = compact({"@graph": expand(mastodon_note())}, AS_CONTEXT)
    assert compacted["content"] == "<p>Exit tickets worked.</p>"


def test_compact_keeps_extension_iri() -> None:
    compacted = compact({"@graph": expand(mastodon_note())}, AS_CONTEXT)
    assert compacted[f"{OSTATUS}atomUri"] == "https://social.test/users/rosa/statuses/1"


JSONLD_FIXTURES = [pair for pair in list_fixtures() if pair[1] != "webfinger"]


def load_peer_fixture(server: str, flow: str) -> dict[str, Any]:
    return load_fixture(
        server,
        flow,
        remote_host="peer.test",
        local_host="pedagogue.test",
        public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )


@pytest.mark.parametrize(("server", "flow"), JSONLD_FIXTURES)
def test_peer_fixture_expands_offline(
    server: str, flow: str, network_attempts: list[tuple[Any, ...]]
) -> None:
    document = load_peer_fixture(server, flow)
    expanded = expand(document)
    assert f"{AS_NAMESPACE}{document['type']}" in expanded[0]["@type"]
    assert network_attempts == []


def test_gotosocial_interaction_policy_iri() -> None:
    note = expand(load_peer_fixture("gotosocial", "create_note"))[0]
    embedded = note[f"{AS_NAMESPACE}object"][0]
    assert "https://gotosocial.org/ns#interactionPolicy" in embedded


def test_lemmy_language_uses_schema_iri() -> None:
    create = expand(load_peer_fixture("lemmy", "create_note"))[0]
    comment = create[f"{AS_NAMESPACE}object"][0]
    assert "http://schema.org/inLanguage" in comment


def test_akkoma_litepub_defines_sensitive() -> None:
    create = expand(load_peer_fixture("akkoma", "create_note"))[0]
    note = create[f"{AS_NAMESPACE}object"][0]
    assert note[f"{AS_NAMESPACE}sensitive"] == [{"@value": True}]


def test_misskey_quote_expands_to_misskey_iri() -> None:
    create = expand(load_peer_fixture("misskey", "create_note"))[0]
    note = create[f"{AS_NAMESPACE}object"][0]
    assert "https://misskey-hub.net/ns#_misskey_quote" in note
