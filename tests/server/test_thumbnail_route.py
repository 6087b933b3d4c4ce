"""GET /component/thumbnail over HTTP: the credentials and permissions of /component/get, cache headers, clear errors."""

import io
import logging
import uuid

import pytest
import requests

Image = pytest.importorskip("PIL.Image", reason="thumbnails need Pillow (the server extra)")


def png(width, height, colour=(220, 40, 40)):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def studio(backend, call, tmp_path_factory):
    """Two projects with an image component each, ``free`` granted the first; files kept in a folder."""
    backend.files.configure(tmp_path_factory.mktemp("files"))
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    call.create("User", username="free")
    made = {}
    for name in ("open", "secret"):
        project = call.create("Project", name=name, full_name=name, project_schema_id=schema)["id"]
        shot = call.create("Shot", name=f"{name}_sh010", parent_id=project)["id"]
        asset_type = call.query("AssetType limit 1")[0]["id"]
        asset = call.create("Asset", name=f"{name}_plate", context_id=shot, type_id=asset_type)["id"]
        version = call.create("AssetVersion", asset_id=asset)["id"]
        image = call.create("FileComponent", name=f"{name}_thumb", file_type=".png", version_id=version)["id"]
        backend.files.put("admin", image, [png(800, 400)])
        made[name] = image
    text = call.create("FileComponent", name="notes", file_type=".txt", version_id=version)["id"]
    backend.files.put("admin", text, [b"just words"])
    made["text"] = text
    exr = call.create("FileComponent", name="plate", file_type=".exr", version_id=version)["id"]
    backend.files.put("admin", exr, [b"\x76\x2f\x31\x01" + bytes(200)])
    made["exr"] = exr
    made["empty"] = call.create("FileComponent", name="nothing", version_id=version)["id"]
    backend.auth.grant("free", "open")
    made["free_key"] = backend.auth.create_key("free", "tests")
    return made


@pytest.fixture(scope="module")
def admin(admin_key):
    return {"ftrack-user": "admin", "ftrack-api-key": admin_key}


def get(server, component, size=None, headers=None, **query):
    params = {"id": component, **({"size": size} if size is not None else {}), **query}
    return requests.get(f"{server}/component/thumbnail", params=params, headers=headers or {}, timeout=30)


def test_a_thumbnail_is_the_image_scaled_with_cache_headers(server, studio, admin):
    answer = get(server, studio["open"], 64, admin)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "image/png"  # a PNG's thumbnail is a PNG, as ftrack's server answers
    assert Image.open(io.BytesIO(answer.content)).size == (64, 32)
    assert answer.headers["Cache-Control"].startswith("private, max-age=")
    assert answer.headers["ETag"].startswith('"')
    default = get(server, studio["open"], headers=admin)
    assert Image.open(io.BytesIO(default.content)).size == (300, 150)


def test_if_none_match_of_the_etag_is_304_with_no_body(server, studio, admin):
    first = get(server, studio["open"], 32, admin)
    again = get(server, studio["open"], 32, {**admin, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = get(server, studio["open"], 32, {**admin, "If-None-Match": '"something else"'})
    assert other.status_code == 200 and other.content == first.content


def test_the_official_clients_url_with_username_and_api_key_works_and_is_never_logged(server, studio, caplog):
    caplog.set_level(logging.DEBUG)
    # As ftrack_api's ServerFileAccessor.get_thumbnail_url writes it.
    url = f"{server}/component/thumbnail?id={studio['open']}&username=free&apiKey={studio['free_key']}&size=10"
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200, answer.text
    assert Image.open(io.BytesIO(answer.content)).size == (10, 5)
    served = [record.getMessage() for record in caplog.records if record.name.startswith(("ftrack_like_api", "uvicorn"))]
    assert any("thumbnail" in line and "user=free" in line for line in served)
    assert not [line for line in served if studio["free_key"] in line]  # the client's own urllib3 may log its URL


def test_a_signed_link_works_for_the_component_it_names(server, studio, admin):
    answer = requests.post(f"{server}/api", json=[{"action": "generate_signed_url", "component_id": studio["open"]}],
                           headers=admin, timeout=30)  # fmt: skip
    link = answer.json()[0]["signed_url"]
    token = link.split("token=", 1)[1]
    signed = requests.get(f"{server}/component/thumbnail", params={"token": requests.utils.unquote(token), "size": 20},
                          timeout=30)  # fmt: skip
    assert signed.status_code == 200, signed.text
    assert Image.open(io.BytesIO(signed.content)).size == (20, 10)
    forged = requests.get(f"{server}/component/thumbnail", params={"token": "x" + token, "size": 20}, timeout=30)
    assert forged.status_code == 403
    assert forged.json()["error_code"] == "bad_token"


def test_a_thumbnail_link_is_asked_for_by_size_and_only_for_what_the_user_reads(server, studio, admin):
    def link(component, size, headers):
        return requests.post(f"{server}/api", json=[{"action": "generate_signed_url", "component_id": component,
                                                      "thumbnail_size": size}], headers=headers, timeout=30)  # fmt: skip

    answer = link(studio["open"], 32, admin)
    url = answer.json()[0]["signed_url"]
    assert url.startswith(f"{server}/component/thumbnail?token=") and url.endswith("&size=32")
    assert Image.open(io.BytesIO(requests.get(url, timeout=30).content)).size == (32, 16)
    for size in (0, 5000, "big"):
        refused = link(studio["open"], size, admin)
        said = refused.json()  # a refused batch, as ftrack answers one
        assert said["exception"] == "ValidationError" and "'thumbnail_size' must be a whole number" in said["content"]
    free = {"ftrack-user": "free", "ftrack-api-key": studio["free_key"]}
    hidden = link(studio["secret"], 32, free)
    assert hidden.json()["error_code"] == "not_found" and "token" not in hidden.text


@pytest.mark.parametrize("headers", [{}, {"ftrack-user": "admin", "ftrack-api-key": "not-a-key"}])
def test_no_or_wrong_credentials_are_refused(server, studio, headers):
    answer = get(server, studio["open"], 64, headers)
    assert answer.status_code == 401
    assert answer.json()["exception"]


def test_a_user_sees_no_thumbnail_of_a_project_they_cannot_see(server, studio):
    free = {"ftrack-user": "free", "ftrack-api-key": studio["free_key"]}
    assert get(server, studio["open"], 64, free).status_code == 200
    hidden = get(server, studio["secret"], 64, free)
    assert hidden.status_code == 404
    assert hidden.json()["error_code"] == "not_found"


@pytest.mark.parametrize("size", ["0", "-5", "abc", "4097", "1e3", "64.5"])
def test_a_size_that_is_not_one_is_400_json(server, studio, admin, size):
    answer = get(server, studio["open"], size, admin)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "bad_size"
    assert "4096" in answer.json()["content"]


def test_a_file_that_is_not_an_image_is_415_and_says_why(server, studio, admin):
    text = get(server, studio["text"], 64, admin)
    assert text.status_code == 415
    assert text.json()["error_code"] == "not_an_image"
    exr = get(server, studio["exr"], 64, admin)
    assert exr.status_code == 415
    assert "OpenEXR" in exr.json()["content"]


@pytest.mark.parametrize("which", ["empty", "missing", "hostile"])
def test_no_file_no_component_or_no_id_is_a_json_error(server, studio, admin, which):
    component = {"empty": studio["empty"], "missing": str(uuid.uuid4()), "hostile": "../../etc/passwd"}[which]
    answer = get(server, component, 64, admin)
    assert answer.status_code in (400, 404)
    assert answer.json()["exception"]
    assert answer.status_code == (400 if which == "hostile" else 404)
