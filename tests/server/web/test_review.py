"""Review and My tasks over real HTTP: the version grid, a version's movie with range requests, downloads, permissions."""

import io
import re

import pytest

Image = pytest.importorskip("PIL.Image", reason="thumbnails need Pillow (the server extra)")

#: Bytes standing in for a movie (the server sends them; a browser would play a real one).
MOVIE = bytes(range(256)) * 40


def png(width, height):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 220)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def version(studio):
    """The demo's first version, with a thumbnail, a movie and an EXR component."""
    found = studio.query(f'select version, asset.name from AssetVersion where asset.parent.project_id is "{studio.project}" '
                         "order by asset.name, version limit 1")[0]  # fmt: skip
    made = {"id": found["id"]}
    for name, file_type, data in (("thumbnail", ".png", png(640, 360)), ("review", ".mp4", MOVIE),
                                  ("plate", ".exr", b"v/1\x01" + bytes(100))):  # fmt: skip
        component = studio.call({"action": "create", "entity_type": "FileComponent",
                                  "entity_data": {"name": name, "file_type": file_type, "version_id": found["id"]}})
        made[name] = component[0]["data"]["id"]
        studio.backend.files.put("admin", made[name], [data])
    studio.call({"action": "update", "entity_type": "AssetVersion", "entity_key": [found["id"]],
                 "entity_data": {"thumbnail_id": made["thumbnail"]}})  # fmt: skip
    return made


def test_the_review_grid_shows_versions_with_their_thumbnails(studio, web, version):
    page = web("coord").get(f"{studio.url}/web/projects/{studio.project}/review")
    assert page.status_code == 200
    versions = studio.query(f'AssetVersion where asset.parent.project_id is "{studio.project}"')
    assert page.text.count('<li class="card') == len(versions)
    thumbnail = re.search(rf'<img src="(/web/files/{version["thumbnail"]}\?size=300)"', page.text).group(1)
    image = web("coord").get(studio.url + thumbnail)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size[0] == 300


def test_a_versions_movie_plays_with_range_requests(studio, web, version):
    page = web("coord").get(f"{studio.url}/web/versions/{version['id']}")
    assert page.status_code == 200
    assert f'<source src="/web/files/{version["review"]}?view=1" type="video/mp4">' in page.text
    part = web("coord").get(f"{studio.url}/web/files/{version['review']}?view=1", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == MOVIE[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(MOVIE)}"
    assert part.headers["content-type"] == "video/mp4" and part.headers["content-disposition"] == "inline"
    tail = web("coord").get(f"{studio.url}/web/files/{version['review']}", headers={"Range": "bytes=-10"})
    assert tail.content == MOVIE[-10:]


def test_the_review_component_plays_before_any_other_movie(studio, web):
    found = studio.query(f'select id from AssetVersion where asset.parent.project_id is "{studio.project}" '
                         "order by asset.name, version desc limit 1")[0]  # fmt: skip
    made = {}
    for name, file_type in (("a-source", ".mov"), ("ftrackreview-webm", ".webm"), ("ftrackreview-mp4", ".mp4")):
        component = studio.call({"action": "create", "entity_type": "FileComponent",
                                  "entity_data": {"name": name, "file_type": file_type, "version_id": found["id"]}})
        made[name] = component[0]["data"]["id"]
        studio.backend.files.put("admin", made[name], [MOVIE])
    page = web("coord").get(f"{studio.url}/web/versions/{found['id']}").text
    assert f'<source src="/web/files/{made["ftrackreview-mp4"]}?view=1" type="video/mp4">' in page


def test_components_have_download_links(studio, web, version):
    page = web("coord").get(f"{studio.url}/web/versions/{version['id']}").text
    for name in ("thumbnail", "review", "plate"):
        assert f'<a href="/web/files/{version[name]}" download>Download</a>' in page
    whole = web("coord").get(f"{studio.url}/web/files/{version['plate']}")
    assert whole.content == b"v/1\x01" + bytes(100)
    assert whole.headers["content-disposition"].startswith("attachment")


def test_the_freelancer_gets_neither_the_version_nor_its_files(studio, web, version):
    for path in (f"/web/versions/{version['id']}", f"/web/files/{version['review']}",
                 f"/web/files/{version['thumbnail']}?size=300", f"/web/projects/{studio.project}/review"):
        assert web("free").get(studio.url + path).status_code == 404


def test_my_tasks_are_the_visitors_own_by_due_date(studio, web):
    mine = studio.query('select name, end_date from Task where assignments any (resource.username is "jo")')
    page = web("jo").get(f"{studio.url}/web/my-tasks")
    assert page.status_code == 200 and '<a href="/web/my-tasks">My tasks</a>' in page.text
    assert sorted(re.findall(r'<tr data-id="([^"]+)"', page.text)) == sorted(t["id"] for t in mine)
    assert "No task is assigned to you." in web("free").get(f"{studio.url}/web/my-tasks").text
