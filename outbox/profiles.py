"""Local profile changes: display name, note, profile fields with ``rel="me"``
link verification, Pedagogue profile data and avatar and header images. A
change is stored and sent to followers as Update(Person) in one transaction."""

from __future__ import annotations

import html
import io
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from actors import text as text_format
from actors.lesson_plan import InvalidPlan, parse_grade_level
from actors.person import render_person
from federation.errors import FederationError
from outbox import activities as build
from outbox.actions import ActionError, Actions
from storage import accounts, mentorship, social

if TYPE_CHECKING:
    from pedagogue.runtime import Runtime

log = logging.getLogger(__name__)


class InputError(ActionError):
    """Invalid client input, with the name of the field at fault."""

    def __init__(self, status: int, field_name: str, message: str) -> None:
        super().__init__(status, message)
        self.field = field_name


def parse_grade_levels(values: list[str], name: str = "grade_levels") -> list[str]:
    """Return grade levels in the form lesson plans store, without repeats.

    Profiles, mentoring offers and lesson plans accept the same grade levels,
    so the directory filters match across them. Raises InputError (422).
    """
    levels: list[str] = []
    for value in values:
        try:
            level, _ = parse_grade_level(value)
        except InvalidPlan as error:
            raise InputError(422, name, f"{name}: {error.message}") from None
        if level not in levels:
            levels.append(level)
    return levels


MAX_FIELDS = 4
MAX_FIELD_NAME = 255
MAX_FIELD_VALUE = 2047
MAX_DISPLAY_NAME = 100
MAX_NOTE = 1000
# Length of the school, role and pronouns fields of a Pedagogue profile.
MAX_PROFILE_LABEL = 200
# Format characters (Unicode category Cf) a plain-text line may contain: the
# zero-width non-joiner and joiner, which Persian, Indic scripts and emoji
# sequences need. The others, among them the bidirectional embeddings,
# overrides and isolates (U+202A to U+202E, U+2066 to U+2069), can make a
# name read as another name.
ALLOWED_FORMAT_CHARACTERS = frozenset("\u200c\u200d")
# Categories never allowed in a plain-text line: controls, lone surrogates,
# and the line and paragraph separators.
REJECTED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
MAX_IMAGE_PIXELS = 40_000_000
# File signatures (magic numbers) of the image types accepted for uploads.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)
PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
# Image info entries that change how the pixels look. Every other entry
# (EXIF, XMP, ICC profile, comments, PNG text chunks) is dropped on upload.
DRAWING_INFO = frozenset({"transparency", "duration", "loop", "background"})
MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}


def is_plain_line(value: str) -> bool:
    """Return True when ``value`` is one line of text without control or
    format characters (except the zero-width joiners).

    Display names, profile field names and values, school, role and pronouns
    are checked with this when set through sign-up, the settings page or the
    client API.
    """
    for char in value:
        category = unicodedata.category(char)
        if category in REJECTED_CATEGORIES:
            return False
        if category == "Cf" and char not in ALLOWED_FORMAT_CHARACTERS:
            return False
    return True


@dataclass
class ProfileChange:
    """The parts of a profile a request changes; None leaves a part as it is.

    ``checked_lines`` applies the rules of the plain-text parts, so the
    settings page and the client API accept and reject the same values.
    """

    display_name: str | None = None
    note: str | None = None
    fields: list[tuple[str, str]] | None = None
    subjects: list[str] | None = None
    grade_levels: list[str] | None = None
    school: str | None = None
    teacher_role: str | None = None
    pronouns: str | None = None
    avatar: bytes | None = None
    header: bytes | None = None
    # Mastodon's locked, bot and discoverable flags.
    locked: bool | None = None
    bot: bool | None = None
    discoverable: bool | None = None

    def checked_lines(self) -> dict[str, str]:
        """Return the plain-text parts this change sets, stripped, by column.

        Raises InputError (422) naming the first part that is too long or
        contains a control or format character.
        """
        limits = (
            ("display_name", "display_name", MAX_DISPLAY_NAME),
            ("school", "school", MAX_PROFILE_LABEL),
            ("teacher_role", "role", MAX_PROFILE_LABEL),
            ("pronouns", "pronouns", MAX_PROFILE_LABEL),
        )
        values = {}
        for column, name, limit in limits:
            value = getattr(self, column)
            if value is not None:
                values[column] = _bounded(value, name, limit, single_line=True)
        return values


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """Return (media type, file extension) of PNG, JPEG, GIF or WebP bytes."""
    for signature, media_type, extension in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return media_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def strip_metadata(data: bytes, media_type: str, field: str) -> bytes:
    """Re-encode an image without its metadata (EXIF, text chunks, ICC).

    Raises InputError (422) when the bytes do not decode as the sniffed type.
    Without Pillow the image is stored as uploaded.
    """
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow is a declared dependency
        log.warning("Pillow is missing: %s stored with its metadata", field)
        return data
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InputError(
                    422, field, f"{field} is over {MAX_IMAGE_PIXELS} pixels"
                )
            if Image.MIME.get(image.format or "") != media_type:
                raise InputError(
                    422, field, f"{field} is not a valid {media_type} image"
                )
            output = io.BytesIO()
            fmt = PILLOW_FORMATS[media_type]
            if fmt == "GIF" and getattr(image, "n_frames", 1) > 1:
                # NOTE: only the first frame's info is filtered; a comment
                # extension on a later frame may survive the re-encoding.
                image.info = _drawing_info(image.info)
                image.save(output, format=fmt, save_all=True)
                return output.getvalue()
            image.load()
            # The EXIF Orientation tag goes with the rest of the metadata, so
            # the rotation it asks for is applied to the pixels first.
            upright = ImageOps.exif_transpose(image)
            # Pillow writes some info entries back, such as a JPEG comment.
            upright.info = _drawing_info(image.info)
            upright.save(output, format=fmt)
            return output.getvalue()
    except UnidentifiedImageError:
        # Pillow's message names the in-memory file object, which means
        # nothing to a client.
        raise InputError(
            422, field, f"{field} is not a valid {media_type} image"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(422, field, f"{field} is not a valid image: {error}") from None


def _drawing_info(info: dict[str, Any]) -> dict[str, Any]:
    """Return the image info entries needed to draw the image, and no others."""
    return {key: value for key, value in info.items() if key in DRAWING_INFO}


def render_field_value(value: str) -> str:
    """Return the HTML of a local profile field value: a link for a URL."""
    value = value.strip()
    if text_format.URL.fullmatch(value):
        parts = urlsplit(value)
        display_text = html.escape(parts.netloc + parts.path.rstrip("/"))
        return (
            f'<a href="{html.escape(value)}" target="_blank"'
            f' rel="nofollow noopener noreferrer me" translate="no">{display_text}</a>'
        )
    return html.escape(value, quote=False)


class _RelMeLinks(HTMLParser):
    """Collect the hrefs of ``<a>`` and ``<link>`` elements with rel="me"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("a", "link"):
            return
        values = dict(attrs)
        rels = (values.get("rel") or "").lower().split()
        if "me" in rels and values.get("href"):
            self.hrefs.add(values["href"].strip())


class ProfileActions:
    """Profile changes of the client API."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = runtime.urls

    async def update(self, account: Any, change: ProfileChange) -> Any:
        """Apply a change, store uploaded images, verify link fields and send
        Update(Person) to followers. Raises InputError (422) naming a bad field."""
        values = await self.prepare_update(account, change)
        if not values:
            return account
        async with accounts.transaction(self.runtime.pool) as connection:
            row = await self.apply_update(connection, account, values)
        log.info("profile of %s updated: %s", row["actor_id"], ", ".join(values))
        return row

    async def prepare_update(self, account: Any, change: ProfileChange) -> dict[str, Any]:
        """Check a change and return the account columns it sets, storing
        uploaded images and verifying link fields on the way. Writes no row.
        Raises InputError (422) naming a bad field."""
        values: dict[str, Any] = change.checked_lines()
        if change.note is not None:
            note = _bounded(change.note, "note", MAX_NOTE)
            values["summary"] = text_format.render_text(
                note, mention_url=lambda user, host: None, tag_url=self.urls.tag
            )
        if change.fields is not None:
            values["fields"] = await self._fields(account, change.fields)
        if change.grade_levels is not None:
            change.grade_levels = parse_grade_levels(change.grade_levels)
        for name in ("subjects", "grade_levels"):
            value = getattr(change, name)
            if value is not None:
                values[name] = value
        if change.avatar is not None:
            values["icon_url"] = self._store_image(change.avatar, "avatar")
        if change.header is not None:
            values["header_url"] = self._store_image(change.header, "header")
        if change.locked is not None:
            values["manually_approves_followers"] = change.locked
        if change.bot is not None:
            values["bot"] = change.bot
        if change.discoverable is not None:
            values["discoverable"] = change.discoverable
        return values

    async def apply_update(
        self, connection: Any, account: Any, values: dict[str, Any]
    ) -> Any:
        """Write the columns from ``prepare_update`` and queue Update(Person)
        in the caller's transaction; return the updated account row."""
        columns = list(values)
        assignments = ", ".join(
            f"{column} = ${i + 2}" for i, column in enumerate(columns)
        )
        row = await connection.fetchrow(
            f"UPDATE accounts SET {assignments} WHERE id = $1 RETURNING *",
            account["id"],
            *[values[column] for column in columns],
        )
        await self.send_update(connection, row)
        return row

    async def send_update(self, connection: Any, account: Any) -> None:
        """Queue Update(Person) with the teacher's current actor document.

        It goes to the inboxes of remote followers and of remote mentees with
        a pending or running mentorship, whose instances list the teacher's
        free places.
        """
        # Imported here because outbox.mentorship imports this module.
        from outbox.mentorship import published_offer

        key = await accounts.local_key(connection, account["id"])
        person = render_person(
            account,
            key["public_key_pem"],
            self.urls,
            mentoring=await published_offer(connection, account["id"]),
        )
        person.pop("@context", None)
        person["to"] = ["https://www.w3.org/ns/activitystreams#Public"]
        person["cc"] = [self.urls.followers(account["username"])]
        inboxes = await social.follower_inboxes(connection, account["id"])
        for inbox in await mentorship.remote_mentee_inboxes(connection, account["id"]):
            if inbox not in inboxes:
                inboxes.append(inbox)

        def builder(uri: str) -> dict[str, Any]:
            body = build.build_update(uri, account["actor_id"], person)
            body["@context"] = person_context()
            return body

        await Actions(self.runtime)._send(connection, account, builder, inboxes)

    async def _fields(self, account: Any, pairs: list[tuple[str, str]]) -> list[dict]:
        if len(pairs) > MAX_FIELDS:
            raise InputError(
                422,
                "fields_attributes",
                f"fields_attributes may have at most {MAX_FIELDS} fields",
            )
        previous = {
            (item["name"], item.get("source")): item.get("verified_at")
            for item in account["fields"] or []
        }
        fields = []
        for position, (name, value) in enumerate(pairs):
            name = _bounded(
                name,
                f"fields_attributes[{position}][name]",
                MAX_FIELD_NAME,
                single_line=True,
            )
            value = _bounded(
                value,
                f"fields_attributes[{position}][value]",
                MAX_FIELD_VALUE,
                single_line=True,
            )
            if not name and not value:
                continue
            verified_at = previous.get((name, value))
            if verified_at is None and text_format.URL.fullmatch(value.strip()):
                verified_at = await self.verify_link(account, value.strip())
            fields.append(
                {
                    "name": name,
                    "value": render_field_value(value),
                    "source": value,
                    "verified_at": verified_at,
                }
            )
        return fields

    async def verify_link(self, account: Any, url: str) -> str | None:
        """Return the verification time when the page at ``url`` links back to
        the teacher's profile or actor with rel="me", else None.

        The page is fetched through the guarded fetcher, so a link to a private
        address or an oversized page is not followed.
        """
        targets = {self.urls.profile(account["username"]), account["actor_id"]}
        try:
            response = await self.runtime.fetcher.request(
                "GET", url, headers={"Accept": "text/html"}
            )
        except FederationError as error:
            log.info(
                "rel=me check of %s for %s failed: %s",
                url,
                account["actor_id"],
                error.message,
            )
            return None
        if not 200 <= response.status < 300:
            log.info(
                "rel=me check of %s for %s: status %s",
                url,
                account["actor_id"],
                response.status,
            )
            return None
        parser = _RelMeLinks()
        parser.feed(response.body.decode("utf-8", errors="replace"))
        if not parser.hrefs & targets:
            log.info(
                "rel=me check of %s for %s: no link back", url, account["actor_id"]
            )
            return None
        log.info("rel=me link %s verified for %s", url, account["actor_id"])
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _store_image(self, data: bytes, field: str) -> str:
        limit = self.runtime.settings.instance.profile_image_max_bytes
        if len(data) > limit:
            raise InputError(422, field, f"{field} is over the limit of {limit} bytes")
        sniffed = sniff_image(data)
        if sniffed is None:
            raise InputError(
                422, field, f"{field} must be a PNG, JPEG, GIF or WebP image"
            )
        media_type, extension = sniffed
        data = strip_metadata(data, media_type, field)
        directory = media_directory(self.runtime)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.{extension}"
        (directory / name).write_bytes(data)
        return f"{self.urls.base}/media/{name}"


def media_directory(runtime: Any) -> Any:
    return runtime.settings.data_path / "media"


def person_context() -> list[Any]:
    from actors.pedagogue import full_context

    return full_context()


def _bounded(value: Any, name: str, limit: int, single_line: bool = False) -> str:
    if not isinstance(value, str):
        raise InputError(422, name, f"{name} must be a string")
    if len(value) > limit:
        raise InputError(422, name, f"{name} must be at most {limit} characters")
    if single_line and not is_plain_line(value):
        raise InputError(
            422,
            name,
            f"{name} must be a single line without control or format characters"
            " (such as bidirectional overrides)",
        )
    return value.strip()
