"""Creating teacher accounts (shared by the CLI, the tests and, later, sign-up)."""

from typing import Any

import asyncpg

from actors.keys import generate_key_pair
from actors.urls import LocalUrls
from pedagogue.config import Settings
from pedagogue.passwords import hash_password
from storage import accounts


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
