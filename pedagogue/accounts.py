"""Creating teacher accounts (shared by the CLI, sign-up and the tests), and reserved names."""

from typing import Any

import asyncpg

from actors.keys import generate_key_pair
from actors.urls import LocalUrls
from pedagogue.config import Settings
from pedagogue.passwords import hash_password
from pedagogue.runtime import INSTANCE_ACTOR_USERNAME
from storage import accounts

# Names a teacher cannot take at sign-up or from the command line without
# --allow-reserved-name: they read as the instance's staff, its software or a
# mail role (RFC 2142), or clash with the instance actor.
RESERVED_USERNAMES = frozenset(
    {
        "abuse",
        "about",
        "actor",
        "admin",
        "administrator",
        "api",
        "instance",
        "moderator",
        "postmaster",
        "root",
        "security",
        "settings",
        "support",
        "system",
        "www",
        INSTANCE_ACTOR_USERNAME,
    }
)


def is_reserved_username(username: str, settings: Settings) -> bool:
    """Return whether ``username`` is reserved, ignoring case.

    The instance's domain is reserved too, because WebFinger resolves
    ``acct:DOMAIN@DOMAIN`` to the instance actor.
    """
    name = username.lower()
    return name in RESERVED_USERNAMES or name == settings.domain


async def create_teacher(
    db: asyncpg.Connection | asyncpg.Pool,
    settings: Settings,
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    approve_followers: bool = False,
) -> Any:
    """Create a local teacher with a new RSA-2048 key pair.

    Raises asyncpg.UniqueViolationError when the username is taken.
    """
    urls = LocalUrls(settings.base_url)
    private_pem, public_pem = generate_key_pair()
    row = await accounts.create_local(
        db,
        username=username,
        actor_id=urls.actor(username),
        key_id=urls.key(username),
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
        urls={
            "inbox": urls.inbox(username),
            "shared_inbox": urls.shared_inbox,
            "outbox": urls.outbox(username),
            "followers": urls.followers(username),
            "following": urls.following(username),
            "url": urls.profile(username),
        },
    )
    if approve_followers:
        await db.execute(
            "UPDATE accounts SET manually_approves_followers = true WHERE id = $1", row["id"]
        )
    return row
