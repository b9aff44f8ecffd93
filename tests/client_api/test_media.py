"""Media uploads through Mastodon.py and raw HTTP: content sniffing,
metadata stripping, descriptions and focal points, attaching to statuses,
the ActivityStreams Document, and the limits."""

from __future__ import annotations

import io

import aiohttp
import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.client_api.conftest import checked, client_for
from tests.web.test_mastodon_py import ca_session, call


def png_with_text(width: int = 32, height: int = 16) -> bytes:
    """Return a PNG with a text chunk, the kind of metadata uploads must lose."""
    info = PngInfo()
    info.add_text("Comment", "taken at 12 Example Street")
    output = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(
        output, format="PNG", pnginfo=info
    )
    return output.getvalue()


def upload_form(data: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(
        "file",
        io.BytesIO(data),
        filename="upload.bin",
        content_type="application/octet-stream",
    )
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def test_media_upload_by_mastodon_py(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)

    # The claimed type is wrong on purpose: the content decides.
    media = await call(
        api.media_post,
        png_with_text(),
        mime_type="image/jpeg",
        description="A red rectangle",
        focus=(0.5, -0.25),
    )
    served = await call(
        ca_session(alice.instance).get,
        media.url.replace(alice.instance.url, alice.instance.client_url),
    )

    assert media.type == "image"
    assert media.url.endswith(".png")
    assert media.remote_url is None
    assert media.description == "A red rectangle"
    assert media.meta.focus.x == 0.5
    assert media.meta.focus.y == -0.25
    assert media.meta.original.width == 32
    assert media.meta.original.size == "32x16"
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert b"Example Street" not in served.content


async def test_media_v1_upload_and_schema(teachers):
    (alice,) = await teachers("alice")

    media = await checked(
        alice,
        "POST",
        "/api/v1/media",
        "/api/v1/media",
        data=upload_form(png_with_text()),
    )

    assert media["description"] is None
    assert "focus" not in media["meta"]


async def test_media_described_before_attach(teachers):
    (alice,) = await teachers("alice")
    api = client_for(alice)
    media = await call(api.media_post, png_with_text(), mime_type="image/png")

    changed = await call(
        api.media_update, media.id, description="Seating plan", focus=(-1, 1)
    )
    fetched = await checked(
        alice, "GET", f"/api/v1/media/{media.id}", "/api/v1/media/{id}"
    )

    assert changed.description == "Seating plan"
    assert fetched["meta"]["focus"] == {"x": -1.0, "y": 1.0}


async def test_media_attached_to_status(teachers):
    alice, bruno = await teachers("alice", "bruno")
    api = client_for(alice)
    first = await call(
        api.media_post, png_with_text(), mime_type="image/png", description="One"
    )
    second = await call(
        api.media_post, png_with_text(8, 8), mime_type="image/png", description="Two"
    )

    status = await call(
        api.status_post, "Two pictures", media_ids=[second.id, first.id]
    )
    read = await call(client_for(bruno).status, status.id)

    assert [item.id for item in status.media_attachments] == [second.id, first.id]
    assert [item.description for item in read.media_attachments] == ["Two", "One"]
    with pytest.raises(MastodonNotFoundError):
        await call(api.media, first.id)
    after = await checked(
        alice,
        "PUT",
        f"/api/v1/media/{first.id}",
        "/api/v1/media/{id}",
        404,
        json={"description": "Too late"},
    )
    assert after["error"] == "Record not found"


async def test_media_only_status_without_text(teachers):
    (alice,) = await teachers("alice")
    media = await checked(
        alice,
        "POST",
        "/api/v2/media",
        "/api/v2/media",
        data=upload_form(png_with_text()),
    )

    status = await alice.post("/api/v1/statuses", json={"media_ids": [media["id"]]})

    assert [item["id"] for item in status["media_attachments"]] == [media["id"]]


async def test_media_federated_as_document(teachers):
    (alice,) = await teachers("alice")
    media = await checked(
        alice,
        "POST",
        "/api/v2/media",
        "/api/v2/media",
        data=upload_form(
            png_with_text(), description="Graph of results", focus="0.1,0.9"
        ),
    )
    status = await alice.post(
        "/api/v1/statuses", json={"status": "Results", "media_ids": [media["id"]]}
    )
    path = status["uri"].replace(alice.instance.url, "")

    code, note = await alice.request(
        "GET", path, headers={"Accept": "application/activity+json"}
    )

    assert code == 200
    (document,) = note["attachment"]
    assert document["type"] == "Document"
    assert document["mediaType"] == "image/png"
    assert document["url"] == media["url"]
    assert document["name"] == "Graph of results"
    assert document["focalPoint"] == pytest.approx([0.1, 0.9])


async def test_media_of_another_account_not_attachable(teachers):
    alice, bruno = await teachers("alice", "bruno")
    theirs = await checked(
        bruno,
        "POST",
        "/api/v2/media",
        "/api/v2/media",
        data=upload_form(png_with_text()),
    )

    with pytest.raises(MastodonAPIError) as rejected:
        await call(client_for(alice).status_post, "Not mine", media_ids=[theirs["id"]])
    read = await checked(
        alice, "GET", f"/api/v1/media/{theirs['id']}", "/api/v1/media/{id}", 404
    )

    assert rejected.value.args[1] == 422
    assert read["error"] == "Record not found"


async def test_media_five_attachments_rejected(teachers):
    (alice,) = await teachers("alice")
    ids = [
        (await alice.post("/api/v2/media", data=upload_form(png_with_text(4, 4))))["id"]
        for _ in range(5)
    ]

    code, body = await alice.request(
        "POST", "/api/v1/statuses", json={"status": "Too many", "media_ids": ids}
    )
    still_free = await alice.get(f"/api/v1/media/{ids[0]}")

    assert code == 422
    assert "at most 4" in body["error"]
    # Nothing was attached by the rejected status.
    assert still_free["id"] == ids[0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"focus": "2,0"}, "between -1 and 1"),
        ({"focus": "left"}, "focus must be two numbers"),
        ({"focus": "nan,0"}, "between -1 and 1"),
        ({"description": "x" * 1501}, "at most 1500 characters"),
    ],
)
async def test_media_invalid_fields_rejected(teachers, fields, message):
    (alice,) = await teachers("alice")

    error = await checked(
        alice,
        "POST",
        "/api/v2/media",
        "/api/v2/media",
        422,
        data=upload_form(png_with_text(), **fields),
    )

    assert message in error["error"]


async def test_media_not_an_image_rejected(teachers):
    (alice,) = await teachers("alice")

    error = await checked(
        alice,
        "POST",
        "/api/v2/media",
        "/api/v2/media",
        422,
        data=upload_form(b"%PDF-1.4 not an image"),
    )
    truncated = await checked(
        alice,
        "POST",
        "/api/v2/media",
        "/api/v2/media",
        422,
        data=upload_form(png_with_text()[:40]),
    )

    assert "must be a PNG, JPEG, GIF or WebP image" in error["error"]
    assert "file" in truncated["error"]


async def test_media_missing_file_rejected(teachers):
    (alice,) = await teachers("alice")

    error = await checked(
        alice,
        "POST",
        "/api/v2/media",
        "/api/v2/media",
        422,
        data={"description": "No file"},
    )

    assert error["error"] == "file is missing"


async def test_media_over_body_limit_rejected(teachers):
    (alice,) = await teachers("alice")
    too_big = png_with_text() + b"\0" * alice.instance.settings.server.max_body_bytes

    error = await checked(
        alice, "POST", "/api/v2/media", "/api/v2/media", 413, data=upload_form(too_big)
    )

    assert "error" in error


@pytest.mark.parametrize(
    ("focal_point", "expected"),
    [
        ([0.25, -1], (0.25, -1.0)),
        ([0, 0, 0], None),
        ([2, 0], None),
        (["0.5", "0.5"], None),
        ([True, 0], None),
        ("0.5,0.5", None),
    ],
)
def test_received_focal_point_checked(focal_point, expected):
    from actors.note import parse_note

    note = parse_note(
        {
            "id": "https://district-b.test/notes/1",
            "type": "Note",
            "attributedTo": "https://district-b.test/users/bruno",
            "content": "Picture",
            "attachment": [
                {
                    "type": "Document",
                    "mediaType": "image/png",
                    "url": "https://district-b.test/media/1.png",
                    "focalPoint": focal_point,
                    "width": 40,
                    "height": 20,
                }
            ],
        }
    )

    (attachment,) = note.attachments
    assert attachment.focus == expected
    assert (attachment.width, attachment.height) == (40, 20)


async def test_media_ids_accept_json_integers(teachers):
    (alice,) = await teachers("alice")
    media = await alice.post("/api/v2/media", data=upload_form(png_with_text()))

    status = await alice.post(
        "/api/v1/statuses", json={"status": "Ints", "media_ids": [int(media["id"])]}
    )

    assert [item["id"] for item in status["media_attachments"]] == [media["id"]]
