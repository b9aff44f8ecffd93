"""Benchmark data: remote actors with keys, Mastodon-shaped activities, bulk loads."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.keys import public_pem_of

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# Mastodon's context: ActivityStreams, security, and its inline extensions.
MASTODON_CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "ostatus": "http://ostatus.org#",
        "atomUri": "ostatus:atomUri",
        "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
        "conversation": "ostatus:conversation",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "votersCount": "toot:votersCount",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    },
]
PARAGRAPH = (
    "<p>Exit tickets again this week with my Year 9 group: three questions, two "
    "minutes at the door, and by the time the bell went I knew which six students "
    "needed the worked example again before we moved on to simultaneous equations. "
    "The sorting board (got it, nearly, not yet) stays on the wall so they can see "
    "themselves move across it during the unit.</p>"
)
TAGS = ("formativeassessment", "mathsed", "exittickets", "teachertwitter", "edchat")


def generate_keys(count: int) -> list[rsa.RSAPrivateKey]:
    """Return ``count`` RSA-2048 keys; remote actors share them round-robin.

    Generating a key costs about 50 ms, so 1,000 actors use a few dozen keys:
    each actor still has its own key id, and the server loads and caches the
    public key per key id as it would for distinct keys.
    """
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(count)]


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class RemoteActor:
    index: int
    actor_id: str
    key_id: str
    key_index: int
    host: str
    username: str
    shared_inbox: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def remote_actors(count: int, keys: int, base: Any) -> list[RemoteActor]:
    """Actors ``a0000``... whose base URL comes from ``base(index)``."""
    actors = []
    for index in range(count):
        root = base(index)
        host = root.split("://", 1)[1]
        username = f"a{index:04d}"
        actor_id = f"{root}/users/{username}"
        actors.append(RemoteActor(
            index, actor_id, f"{actor_id}#main-key", index % keys, host, username,
            f"{root}/inbox",
        ))
    return actors


def actor_document(actor: RemoteActor, public_pem: str) -> dict[str, Any]:
    """The actor document a Mastodon-like server serves for ``actor``."""
    return {
        "@context": MASTODON_CONTEXT,
        "id": actor.actor_id,
        "type": "Person",
        "preferredUsername": actor.username,
        "name": f"Remote teacher {actor.index}",
        "summary": "<p>Teaches maths.</p>",
        "inbox": f"{actor.actor_id}/inbox",
        "outbox": f"{actor.actor_id}/outbox",
        "followers": f"{actor.actor_id}/followers",
        "following": f"{actor.actor_id}/following",
        "url": actor.actor_id.replace("/users/", "/@"),
        "manuallyApprovesFollowers": False,
        "endpoints": {"sharedInbox": actor.shared_inbox},
        "publicKey": {"id": actor.key_id, "owner": actor.actor_id, "publicKeyPem": public_pem},
    }


_counter = itertools.count(int(time.time() * 1000) << 16)


def create_note(actor: RemoteActor, teacher: str | None, *, size: int = 5000) -> dict[str, Any]:
    """A Create(Note) shaped as Mastodon sends it, about ``size`` bytes as JSON.

    It mentions ``teacher`` (a local actor id) when given and carries two
    hashtags, so processing writes a status, a mention, tags, home feed rows
    and a notification.
    """
    number = next(_counter)
    note_id = f"{actor.actor_id}/statuses/{number}"
    host = actor.host
    tags = [TAGS[number % len(TAGS)], TAGS[(number + 1) % len(TAGS)]]
    cc = [f"{actor.actor_id}/followers"]
    tag_objects: list[dict[str, Any]] = []
    mention_html = ""
    if teacher:
        cc.append(teacher)
        teacher_host = teacher.split("/")[2]
        tag_objects.append({"type": "Mention", "href": teacher,
                            "name": f"@{teacher.rsplit('/', 1)[1]}@{teacher_host}"})
        mention_html = (
            f'<p><span class="h-card" translate="no"><a href="{teacher}" '
            'class="u-url mention">@<span>teacher</span></a></span></p>'
        )
    for name in tags:
        tag_objects.append({"type": "Hashtag", "href": f"https://{host}/tags/{name}",
                            "name": f"#{name}"})
    hashtags = " ".join(
        f'<a href="https://{host}/tags/{name}" class="mention hashtag" rel="tag">'
        f"#<span>{name}</span></a>" for name in tags
    )
    published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    document: dict[str, Any] = {
        "@context": MASTODON_CONTEXT,
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor.actor_id,
        "published": published,
        "to": [PUBLIC],
        "cc": cc,
        "object": {
            "id": note_id,
            "type": "Note",
            "summary": None,
            "inReplyTo": None,
            "published": published,
            "url": f"{actor.actor_id.replace('/users/', '/@')}/{number}",
            "attributedTo": actor.actor_id,
            "to": [PUBLIC],
            "cc": cc,
            "sensitive": False,
            "atomUri": note_id,
            "inReplyToAtomUri": None,
            "conversation": f"tag:{host},2024-06-21:objectId={number}:objectType=Conversation",
            "content": "",
            "contentMap": {"en": ""},
            "attachment": [],
            "tag": tag_objects,
            "replies": {
                "id": f"{note_id}/replies",
                "type": "Collection",
                "first": {"type": "CollectionPage", "next": f"{note_id}/replies?page=true",
                          "partOf": f"{note_id}/replies", "items": []},
            },
        },
        "signature": {
            "type": "RsaSignature2017",
            "creator": actor.key_id,
            "created": published,
            "signatureValue": "A" * 342 + "==",
        },
    }
    base_size = len(json.dumps(document))
    # Content appears twice (content and contentMap): fill half the gap each.
    room = max(0, (size - base_size) // 2 - len(mention_html) - len(hashtags) - 8)
    body = (PARAGRAPH * (room // len(PARAGRAPH) + 1))[:room]
    content = f"{mention_html}{body}<p>{hashtags}</p>"
    document["object"]["content"] = content
    document["object"]["contentMap"]["en"] = content
    return document


async def load_remote_actors(connection: asyncpg.Connection, actors: list[RemoteActor],
                             public_pems: list[str], *, first_id: int = 10**15) -> list[int]:
    """COPY remote accounts and their keys in; return the account ids."""
    ids = [first_id + actor.index for actor in actors]
    await connection.copy_records_to_table(
        "accounts",
        columns=["id", "username", "domain", "actor_id", "actor_type", "display_name",
                 "inbox_url", "shared_inbox_url", "followers_url", "url", "fetched_at"],
        records=[
            (ids[i], a.username, a.host, a.actor_id, "Person", f"Remote teacher {a.index}",
             f"{a.actor_id}/inbox", a.shared_inbox, f"{a.actor_id}/followers",
             a.actor_id.replace("/users/", "/@"), None)
            for i, a in enumerate(actors)
        ],
    )
    await connection.copy_records_to_table(
        "account_keys",
        columns=["key_id", "account_id", "public_key_pem"],
        records=[(a.key_id, ids[i], public_pems[a.key_index]) for i, a in enumerate(actors)],
    )
    return ids


async def follow_all(connection: asyncpg.Connection, follower_ids: list[int],
                     target_ids: list[int], *, first_id: int) -> None:
    """COPY accepted follows from every follower to every target."""
    records = []
    next_id = first_id
    for follower in follower_ids:
        for target in target_ids:
            records.append((next_id, follower, target, True))
            next_id += 1
    await connection.copy_records_to_table(
        "follows", columns=["id", "account_id", "target_account_id", "accepted"],
        records=records,
    )


__all__ = [
    "RemoteActor", "actor_document", "create_note", "follow_all", "generate_keys",
    "load_remote_actors", "private_pem", "public_pem_of", "remote_actors",
]
