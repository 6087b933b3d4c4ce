"""Files at ``/files/<name>`` through the official ``aquarium-python-api``: read only where what they belong to is.

A user restricted to one project reads the files uploaded on that project's items and gets
"not found" (404 JSON) for those of another project — the same rule as for the items, which
holds for an item kept whole (a Version) under a Task of that project too.
"""

import json
import subprocess
import textwrap

import pytest
import requests

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.server.protocols.aquarium.calls import Calls  # noqa: E402
from ftrack_like_api.server.protocols.aquarium.mapping import load_mapping  # noqa: E402

PASSWORD = "correct horse battery"

ADMIN = textwrap.dedent(
    """
    import json, sys
    from aquarium import Aquarium

    url, password, media = sys.argv[1:4]
    aq = Aquarium(api_url=url + "/")
    aq.signin("admin", password)
    said = {}
    for name in ("open", "secret"):
        project = aq.item.create(type="Project", data={"name": name})
        shot = project.append(type="Shot", data={"name": name + "_sh"}).item
        shot.append(type="Task", data={"name": "comp"})
        uploaded = aq.shot(shot._key).upload_on_task(task_name="comp", path=media, version_name="v001")
        said[name] = {"project": project._key, "path": uploaded.item.data["path"], "version": uploaded.item._key}
    said["admin_reads"] = [aq.get_file(said[n]["path"]).decode() for n in ("open", "secret")]
    print(json.dumps(said))
    """
)

RESTRICTED = textwrap.dedent(
    """
    import json, sys
    from aquarium import Aquarium

    url, password, open_path, secret_path, secret_version = sys.argv[1:6]
    aq = Aquarium(api_url=url + "/")
    aq.signin("jo@studio.test", password)
    said = {"open": aq.get_file(open_path).decode()}
    try:
        aq.get_file(secret_path)
    except Exception as error:
        said["secret"] = [error.__class__.__name__, str(error).split(" - url")[0]]
    said["versions"] = [v["data"]["name"] for v in aq.query("# $Version SORT item.data.name")]
    try:
        aq.item(secret_version).get()
    except Exception as error:
        said["secret_version"] = error.__class__.__name__
    said["medias"] = [m["data"]["name"] for m in aq.query("# $Media")]
    for name, call in (("download", lambda: aq.item(secret_version).download_file("secret.txt")),
                       ("history", lambda: aq.item(secret_version).get_history()),
                       ("copy", lambda: aq.item(secret_version).copy(secret_version))):
        try:
            call()
        except Exception as error:
            said[name] = error.__class__.__name__
    print(json.dumps(said))
    """
)


def _run(python, script, *arguments):
    run = subprocess.run([python, "-c", script, *arguments], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_file_is_read_only_by_users_who_may_read_its_project(aquarium_python, fresh_database, serve, tmp_path):
    media = tmp_path / "v001.txt"
    media.write_text("frames")
    with Backend.from_url(fresh_database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        Calls(backend, load_mapping())
        backend.execute([{"action": "aquarium_write", "call": "create_user", "params": {"email": "jo@studio.test"}}], "admin")
        backend.auth.set_password("jo@studio.test", PASSWORD)
    with serve(fresh_database, "--storage", str(tmp_path / "files")) as url:
        made = _run(aquarium_python, ADMIN, url, PASSWORD, str(media))
        with Backend.from_url(fresh_database) as backend:
            backend.auth.grant("jo@studio.test", made["open"]["project"])
            token = backend.auth.sign_in("jo@studio.test", PASSWORD, "127.0.0.1")[0]
        said = _run(aquarium_python, RESTRICTED, url, PASSWORD, made["open"]["path"], made["secret"]["path"],
                    made["secret"]["version"])
        raw = requests.get(url + made["secret"]["path"], headers={"authorization": token}, timeout=10)
        mine = requests.get(url + made["open"]["path"], headers={"authorization": token}, timeout=10)

    assert made["admin_reads"] == ["frames", "frames"]
    assert said["open"] == "frames"
    assert said["versions"] == ["v001"] and said["secret_version"] == "PathNotFoundError"  # the item, like its file, is hidden
    assert said["secret"][0] == "PathNotFoundError" and "No file" in said["secret"][1]
    # The Media is a component of ours, under a version of the other project: none of it is theirs to read.
    assert said["medias"] == ["v001.txt"]
    assert said["download"] == said["history"] == said["copy"] == "PathNotFoundError"
    assert raw.status_code == 404 and raw.headers["content-type"] == "application/json"
    assert raw.json() == {"error": f"No file {made['secret']['path'].split('/')[-1]}"}
    assert mine.status_code == 200 and mine.content == b"frames"


def test_an_upload_over_the_limit_or_not_multipart_is_refused_and_nothing_kept(fresh_database, serve, tmp_path):
    with Backend.from_url(fresh_database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        token = backend.auth.sign_in("admin", PASSWORD, "127.0.0.1")[0]
    files = tmp_path / "files"

    def chunked():  # no Content-Length: the limit is found while the file streams in
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        for _ in range(40):
            yield b"x" * 65536
        yield b"\r\n--b--\r\n"

    with serve(fresh_database, "--storage", str(files), "--max-upload", "1M") as url:
        over = requests.post(f"{url}/v1/upload", data=chunked(), headers={"authorization": token,
                             "content-type": "multipart/form-data; boundary=b"}, timeout=30)  # fmt: skip
        declared = requests.post(f"{url}/v1/upload", files={"file": ("big.bin", b"x" * (2 << 20))}, headers={"authorization": token},
                                 timeout=30)  # fmt: skip
        not_multipart = requests.post(f"{url}/v1/upload", data=b"x", headers={"authorization": token}, timeout=10)
        fine = requests.post(f"{url}/v1/upload", files={"file": ("ok.txt", b"small")}, headers={"authorization": token}, timeout=10)
        read = requests.get(url + fine.json()["path"], headers={"authorization": token}, timeout=10)
    assert over.status_code == 413 and "over" in over.json()["error"]
    assert declared.status_code == 413 and "over" in declared.json()["error"]
    assert not_multipart.status_code == 400 and "multipart/form-data" in not_multipart.json()["error"]
    assert fine.status_code == 200 and fine.json()["size"] == 5 and read.content == b"small"
    kept = [p for p in files.rglob("*") if p.is_file() and "thumbnails" not in p.parts]
    assert len(kept) == 1 and kept[0].read_bytes() == b"small"
