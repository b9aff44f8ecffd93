"""Uploaded images are stored without EXIF, GPS, comments or PNG text chunks,
and every upload's type comes from its bytes, never from the client."""

from __future__ import annotations

import io
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin
from werkzeug.datastructures import FileStorage

from pedagogue.accounts import create_teacher
from pedagogue.config import load_settings
from pedagogue.runtime import Runtime
from web.api import hash_token

ATTACHMENTS = "/api/pedagogue/v1/lesson_plans/attachments"
UPDATE = "/api/v1/accounts/update_credentials"
# Degrees, minutes and seconds of a made-up school, as EXIF GPS rationals.
LATITUDE = (51.0, 30.0, 26.34)
LONGITUDE = (0.0, 7.0, 39.0)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


@dataclass
class Uploader:
    runtime: Runtime
    client: Any
    token: str

    async def upload(self, path: str, field: str, data: bytes, name: str) -> Any:
        files = {field: FileStorage(io.BytesIO(data), filename=name)}
        method = "PATCH" if path == UPDATE else "POST"
        response = await self.client.open(
            path,
            method=method,
            headers={"Authorization": f"Bearer {self.token}"},
            files=files,
        )
        return response.status_code, await response.get_json()

    def attachment_bytes(self, attachment_id: str) -> bytes:
        media = self.runtime.settings.data_path / "media" / "lesson_plans"
        return (media / attachment_id).read_bytes()

    def media_bytes(self, url: str) -> bytes:
        name = url.rsplit("/", 1)[1]
        return (self.runtime.settings.data_path / "media" / name).read_bytes()


@pytest.fixture
async def uploader(database: str, tmp_path: Path) -> AsyncIterator[Uploader]:
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
    account = await create_teacher(
        runtime.pool, settings, username="alice", password=None, display_name="Alice"
    )
    token = secrets.token_urlsafe(24)
    await runtime.pool.execute(
        "INSERT INTO tokens (account_id, token_hash) VALUES ($1, $2)",
        account["id"],
        hash_token(token),
    )
    yield Uploader(runtime, create_app(runtime).test_client(), token)
    await runtime.stop()


def jpeg_with_gps(*, orientation: int | None = None, size=(40, 20)) -> bytes:
    """Return a JPEG whose EXIF names a GPS position, a camera and a comment."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Classroom Camera Co"  # Make
    exif[0x0110] = "Model 7"  # Model
    if orientation is not None:
        exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = LATITUDE
    gps[3] = "W"
    gps[4] = LONGITUDE
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif, comment=b"room 14, north wing")
    return output.getvalue()


def png_with_text() -> bytes:
    """Return a PNG with tEXt, zTXt and iTXt chunks naming a place."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "Hillside Primary, room 14")
    info.add_text("Comment", "north wing", zip=True)
    info.add_itxt("Author", "A. Teacher", lang="en")
    output = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 10)).save(output, format="PNG", pnginfo=info)
    return output.getvalue()


def test_jpeg_fixture_has_gps() -> None:
    # Guards the other tests: they would pass vacuously on a clean image.
    with Image.open(io.BytesIO(jpeg_with_gps())) as image:
        gps = image.getexif().get_ifd(GPS_IFD)
    assert tuple(float(part) for part in gps[2]) == LATITUDE


async def test_attachment_jpeg_loses_gps(uploader: Uploader) -> None:
    status, body = await uploader.upload(
        ATTACHMENTS, "file", jpeg_with_gps(), "photo.jpg"
    )
    assert status == 200
    stored = uploader.attachment_bytes(body["id"])
    with Image.open(io.BytesIO(stored)) as image:
        exif = image.getexif()
        info = dict(image.info)
    assert body["mime_type"] == "image/jpeg"
    assert body["size"] == len(stored)
    assert exif.get_ifd(GPS_IFD) == {}
    assert len(exif) == 0
    assert "exif" not in info
    assert "comment" not in info
    assert b"Classroom Camera" not in stored
    assert b"north wing" not in stored


async def test_attachment_png_loses_text_chunks(uploader: Uploader) -> None:
    status, body = await uploader.upload(ATTACHMENTS, "file", png_with_text(), "a.png")
    assert status == 200
    stored = uploader.attachment_bytes(body["id"])
    with Image.open(io.BytesIO(stored)) as image:
        text = dict(image.text)  # type: ignore[attr-defined]
    assert text == {}
    for chunk in (b"tEXt", b"zTXt", b"iTXt"):
        assert chunk not in stored
    assert b"Hillside" not in stored


async def test_attachment_orientation_applied(uploader: Uploader) -> None:
    # Orientation 6 means "rotate 90 degrees clockwise to display".
    photo = jpeg_with_gps(orientation=6, size=(40, 20))
    status, body = await uploader.upload(ATTACHMENTS, "file", photo, "photo.jpg")
    assert status == 200
    with Image.open(io.BytesIO(uploader.attachment_bytes(body["id"]))) as image:
        size = image.size
        orientation = image.getexif().get(ORIENTATION)
    assert size == (20, 40)
    assert orientation is None


async def test_avatar_jpeg_loses_gps(uploader: Uploader) -> None:
    status, body = await uploader.upload(UPDATE, "avatar", jpeg_with_gps(), "me.jpg")
    assert status == 200
    stored = uploader.media_bytes(body["avatar"])
    with Image.open(io.BytesIO(stored)) as image:
        exif = image.getexif()
        info = dict(image.info)
    assert exif.get_ifd(GPS_IFD) == {}
    assert "comment" not in info
    assert b"north wing" not in stored


async def test_attachment_type_from_content(uploader: Uploader) -> None:
    # The file name claims a PDF; the bytes are a PNG.
    status, body = await uploader.upload(ATTACHMENTS, "file", png_with_text(), "x.pdf")
    assert status == 200
    assert body["mime_type"] == "image/png"


async def test_attachment_executable_rejected(uploader: Uploader) -> None:
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    status, body = await uploader.upload(ATTACHMENTS, "file", program, "worksheet.png")
    count = await uploader.runtime.pool.fetchval(
        "SELECT count(*) FROM lesson_plan_attachments"
    )
    assert status == 422
    assert "not allowed" in body["error"]
    assert count == 0


async def test_attachment_truncated_jpeg_rejected(uploader: Uploader) -> None:
    broken = jpeg_with_gps()[:40]
    status, body = await uploader.upload(ATTACHMENTS, "file", broken, "photo.jpg")
    count = await uploader.runtime.pool.fetchval(
        "SELECT count(*) FROM lesson_plan_attachments"
    )
    assert status == 422
    assert "image/jpeg" in body["error"] or "not a valid image" in body["error"]
    assert count == 0
