"""Thumbnails: images of every kind scaled to fit a square, cached in each store; thumbnail_url on the types that have it."""

import io
import struct
import uuid
import zlib

import pytest

Image = pytest.importorskip("PIL.Image", reason="thumbnails need Pillow (the server extra)")

from ftrack_like_api.server.files.store import FolderStore, NotStored  # noqa: E402
from ftrack_like_api.server.files.stores import store_for  # noqa: E402
from ftrack_like_api.server.files.thumbnails import (  # noqa: E402
    DEFAULT_SIZE,
    MAX_SIZE,
    BadSize,
    NotAnImage,
    parse_size,
    scale,
    thumbnail,
)


def encoded(image, kind, **options):
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def scaled(data, size):
    """The thumbnail of ``data``: a PNG's a PNG (as ftrack's server answers), any other image's an RGB JPEG."""
    picture = Image.open(io.BytesIO(scale(io.BytesIO(data), size)))
    if data.startswith(b"\x89PNG"):
        assert picture.format == "PNG"
    else:
        assert picture.format == "JPEG" and picture.mode == "RGB"
    return picture


def near(pixel, expected, within=6):
    return all(abs(a - b) <= within for a, b in zip(pixel, expected))


# --- scaling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "TIFF", "WEBP", "BMP"])
def test_an_image_is_scaled_to_fit_the_square_keeping_its_shape(kind):
    picture = scaled(encoded(Image.new("RGB", (1600, 900), (200, 30, 40)), kind), 160)
    assert picture.size == (160, 90)
    assert near(picture.getpixel((80, 45)), (200, 30, 40))


def test_an_image_that_fits_already_is_not_enlarged():
    assert scaled(encoded(Image.new("RGB", (30, 20), (1, 2, 3)), "PNG"), 300).size == (30, 20)


def test_a_tall_image_fits_by_its_height():
    assert scaled(encoded(Image.new("L", (500, 2000), 128), "TIFF", compression="tiff_lzw"), 100).size == (25, 100)


def test_transparency_is_laid_on_white_in_a_jpeg_and_kept_in_a_png():
    clear = Image.new("RGBA", (400, 400), (200, 10, 10, 0))
    assert near(scaled(encoded(clear, "WEBP"), 64).getpixel((32, 32)), (255, 255, 255))
    picture = scaled(encoded(clear, "PNG"), 64)
    assert picture.mode == "RGBA" and picture.getpixel((32, 32))[3] == 0


def test_a_palette_png_comes_back_a_palette_png_scaled_in_full_colour():
    """ftrack's server's way, which its own suite compares byte for byte (test_get_thumbnail_url)."""
    bars = Image.frombytes("P", (768, 576), bytes(x * 8 // 768 for _ in range(576) for x in range(768)))
    bars.putpalette([255, 255, 255, 191, 191, 0, 0, 191, 191, 0, 191, 0, 191, 0, 191, 191, 0, 0, 0, 0, 191, 0, 0, 0])
    picture = scaled(encoded(bars, "PNG"), 10)
    assert (picture.mode, picture.size, len(picture.getpalette())) == ("P", (10, 8), 768)
    smooth = bars.convert("RGB").resize((10, 8), Image.Resampling.LANCZOS)  # not the nearest colour: Lanczos over RGB
    assert picture.convert("RGB").tobytes() == smooth.tobytes()
    assert len(smooth.getcolors()) > 8


@pytest.mark.parametrize("kind", ["PNG", "TIFF"])
def test_sixteen_bit_images_keep_their_brightness(kind):
    picture = scaled(encoded(Image.new("I;16", (300, 300), 40000), kind), 64)  # 40000 / 65535 of white
    assert near(picture.getpixel((10, 10)), (155, 155, 155))


def test_float_images_map_zero_to_one_onto_black_to_white():
    picture = scaled(encoded(Image.new("F", (300, 300), 0.5), "TIFF"), 64)
    assert near(picture.getpixel((10, 10)), (127, 127, 127))


def test_cmyk_jpegs_come_out_rgb():
    picture = scaled(encoded(Image.new("CMYK", (300, 300), (0, 255, 255, 0)), "JPEG"), 64)
    assert near(picture.getpixel((10, 10)), (255, 0, 0), within=10)


def test_the_cameras_orientation_is_applied():
    image = Image.new("RGB", (400, 200), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90°: the picture is 200 wide and 400 high
    assert scaled(encoded(image, "JPEG", exif=exif), 100).size == (50, 100)


def test_exr_is_refused_by_name():
    header = b"\x76\x2f\x31\x01" + b"\x02\x00\x00\x00" + b"channels\x00chlist\x00" + bytes(100)
    with pytest.raises(NotAnImage, match="OpenEXR"):
        scale(io.BytesIO(header), 64)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
                                  encoded(Image.new("RGB", (100, 100)), "PNG")[:60]])  # fmt: skip
def test_what_is_not_a_readable_image_is_refused(data):
    with pytest.raises(NotAnImage):
        scale(io.BytesIO(data), 64)


@pytest.mark.parametrize("width, height", [(12000, 9000), (20000, 20000)])
def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded(width, height):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    # A PNG whose header says 108 M or 400 M pixels, with no pixels at all: 57 bytes.
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    with pytest.raises(NotAnImage, match="more pixels than this server makes thumbnails of"):
        scale(io.BytesIO(bomb), 64)


@pytest.mark.parametrize("size", [0, -1, MAX_SIZE + 1, "abc", "1.5", "10e3", " ", "99999999999999999999", True, "²", "٣"])
def test_sizes_out_of_range_are_refused(size):
    with pytest.raises(BadSize, match=f"1 to {MAX_SIZE}"):
        parse_size(size)


def test_sizes_in_range_are_pixels():
    assert [parse_size(v) for v in (None, "", "1", " 64", 300, str(MAX_SIZE))] == [DEFAULT_SIZE, DEFAULT_SIZE, 1, 64,
                                                                                     300, MAX_SIZE]  # fmt: skip


# --- the cache, in each store -------------------------------------------------------------------


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return FolderStore(tmp_path / "storage")
    return store_for(f"s3://{request.getfixturevalue('s3_bucket')}/files")


def test_a_thumbnail_is_made_once_then_read_from_the_cache(store):
    component = str(uuid.uuid4())
    data = encoded(Image.new("RGB", (800, 600), (0, 0, 255)), "PNG")
    store.write_file(component, [data], limit=len(data))
    first = thumbnail(store, component, 100)
    assert Image.open(io.BytesIO(first.data)).size == (100, 75)
    assert store.read_thumbnail(component, 100) == first.data
    assert first.etag.startswith('"') and first.etag.endswith('"')
    assert thumbnail(store, component, 100) == first
    # What is served is the cache's: what the cache holds is what comes back (no second scaling).
    store.write_thumbnail(component, 100, b"the cached bytes")
    assert thumbnail(store, component, 100).data == b"the cached bytes"
    assert thumbnail(store, component, 50).data != b"the cached bytes"  # each size its own
    assert store.remove(component)
    assert store.read_thumbnail(component, 100) is None


def test_a_component_without_a_file_has_no_thumbnail_and_nothing_is_cached(store):
    component = str(uuid.uuid4())
    with pytest.raises(NotStored):
        thumbnail(store, component, 100)
    assert store.read_thumbnail(component, 100) is None


def test_a_file_that_is_not_an_image_caches_nothing(store):
    component = str(uuid.uuid4())
    store.write_file(component, [b"plain text"], limit=100)
    with pytest.raises(NotAnImage):
        thumbnail(store, component, 100)
    assert store.read_thumbnail(component, 100) is None


# --- thumbnail_url ------------------------------------------------------------------------------


def test_the_types_with_a_thumbnail_url_are_ftracks(backend):
    import json
    import pathlib

    recorded = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ftrack-wire" / "query_schemas.json"
    ftrack = json.loads(recorded.read_text())
    theirs = {t["id"] for t in ftrack if "thumbnail_url" in t.get("properties", {})}
    ours = {t["id"]: t for t in backend.schema.to_ftrack() if "thumbnail_url" in t["properties"]}
    assert set(ours) == theirs
    for exported in ours.values():
        assert exported["properties"]["thumbnail_url"] == {"type": "object"}
        assert "thumbnail_url" in exported["computed"] and "thumbnail_url" in exported["immutable"]


def test_thumbnail_url_links_each_entity_to_its_thumbnail(call):
    thumb = call.create("FileComponent", name="thumbnail")
    other = call.create("FileComponent", name="other")
    schema = call.query("select id from ProjectSchema")[0]["id"]
    project = call.create("Project", name=f"p{uuid.uuid4().hex[:8]}", full_name="P", project_schema_id=schema,
                          thumbnail_id=thumb["id"])  # fmt: skip
    bare = call.create("Project", name=f"p{uuid.uuid4().hex[:8]}", full_name="P", project_schema_id=schema)
    note = call.create("Note", content="see", parent_id=project["id"], parent_type="Project")
    call({"action": "create", "entity_type": "NoteComponent", "entity_key": [other["id"], note["id"]],
          "entity_data": {"note_id": note["id"], "component_id": other["id"]}})  # fmt: skip

    link = f"/component/thumbnail?id={thumb['id']}"
    found = {p["id"]: p["thumbnail_url"] for p in call.query("select thumbnail_url from Project")}
    assert found[project["id"]] == {"url": link, "value": link}  # in-process: a path
    assert found[bare["id"]] is None
    [attached] = call.query(f"select thumbnail_url from NoteComponent where note_id is {note['id']}")
    assert attached["thumbnail_url"]["url"] == f"/component/thumbnail?id={other['id']}"


def test_over_http_thumbnail_url_is_an_absolute_signed_link_a_plain_get_serves(call, server, admin_key, backend, tmp_path):
    import base64
    import json
    import time
    from urllib.parse import parse_qs, urlsplit

    import requests

    backend.files.configure(tmp_path / "files")
    thumb = call.create("FileComponent", name="thumbnail", file_type=".png")
    backend.files.put("admin", thumb["id"], [encoded(Image.new("RGB", (400, 200), (9, 99, 199)), "PNG")])
    user = call.query("select id from User where username is admin")[0]
    call({"action": "update", "entity_type": "User", "entity_key": [user["id"]], "entity_data": {"thumbnail_id": thumb["id"]}})
    query = {"action": "query", "expression": "select thumbnail_url from User where username is admin"}
    answer = requests.post(f"{server}/api", json=[query], headers={"ftrack-user": "admin", "ftrack-api-key": admin_key},
                           timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    link = answer.json()[0]["data"][0]["thumbnail_url"]
    assert link["url"] == link["value"]
    assert link["url"].startswith(f"{server}/component/thumbnail?id={thumb['id']}&token=")
    # The token works a day, from the next whole hour: the link is the same all the hour (browsers cache by it).
    token = parse_qs(urlsplit(link["url"]).query)["token"][0]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert claims["exp"] % 3600 == 0 and 24 * 3600 <= claims["exp"] - time.time() <= 25 * 3600
    # No other credential needed, as ftrack's links.
    image = requests.get(link["url"] + "&size=50", timeout=30)
    assert image.status_code == 200, image.text
    assert Image.open(io.BytesIO(image.content)).size == (50, 25)


def test_a_file_too_large_to_copy_from_the_bucket_is_refused_without_reading_it_all(s3_bucket, monkeypatch):
    from ftrack_like_api.server.files import thumbnails

    store = store_for(f"s3://{s3_bucket}/files")
    component = str(uuid.uuid4())
    store.write_file(component, [b"\0" * 3 * 1024 * 1024], limit=4 * 1024 * 1024)
    monkeypatch.setattr(thumbnails, "MAX_SOURCE", 1024 * 1024)  # a movie's gigabytes, in small
    with pytest.raises(NotAnImage, match="too large to make a thumbnail of"):
        thumbnail(store, component, 64)
    assert store.read_thumbnail(component, 64) is None
