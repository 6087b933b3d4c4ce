"""Projects and a project's spreadsheet over real HTTP: rows, paging by key, the filter, 404s, hostile names, freelancers."""

import re
from urllib.parse import quote

import requests

from .conftest import HOSTILE_SHOT, HOSTILE_TASK, new_id


def task_rows(html):
    return re.findall(r'<tr data-id="([^"]+)" class="task', html)


def test_projects_are_those_the_visitor_may_see(studio, web):
    everyone = web("admin").get(f"{studio.url}/web/projects").text
    assert "The Demo" in everyone and "Side Project" in everyone and "Big Project" in everyone
    freelancer = web("free").get(f"{studio.url}/web/projects").text
    assert "Side Project" in freelancer and "The Demo" not in freelancer and "Big Project" not in freelancer


def test_the_sheet_shows_sequences_shots_and_tasks_with_status_type_and_assignees(studio, web):
    page = web("coord").get(f"{studio.url}/web/projects/{studio.project}")
    assert page.status_code == 200
    tasks = studio.query(f'select name, status_id, type.name from Task where project_id is "{studio.project}"')
    assert sorted(task_rows(page.text)) == sorted(t["id"] for t in tasks)
    assert 'class="group sequence"' in page.text and "sq010" in page.text and "sq010_sh010" in page.text
    first = tasks[0]
    assert f'class="task status-{first["status_id"]}"' in page.text
    assert f'<option selected value="{first["status_id"]}">' in page.text
    assert "Compositing" in page.text and "jo" in page.text
    assert page.text.count('aria-label="Status"') == len(tasks)
    # The status colours are a stylesheet of classes (the CSP allows no inline style).
    colours = web("coord").get(f"{studio.url}/web/colours.css")
    assert colours.headers["content-type"].startswith("text/css")
    assert re.search(rf"\.status-{first['status_id']}\{{border-left-color:#[0-9A-Fa-f]{{6}}\}}", colours.text)


def test_a_big_project_pages_by_key_and_the_url_holds_the_view(studio, web):
    browser = web("coord")
    first = browser.get(f"{studio.url}/web/projects/{studio.big}?sort=name")
    rows = task_rows(first.text)
    assert len(rows) == 100
    following = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first.text).group(1).replace("&amp;", "&")
    assert "after=" in following and "sort=name" in following
    second = browser.get(studio.url + following)
    more = task_rows(second.text)
    assert len(more) == 30 and not set(rows) & set(more)
    assert 'rel="next"' not in second.text and "First page" in second.text
    names = re.findall(r'/web/entities/Task/[^"]+">(task\d+)</a>', first.text + second.text)
    assert names == sorted(names) and len(names) == 130
    backwards = browser.get(f"{studio.url}/web/projects/{studio.big}?sort=name&order=desc")
    assert re.findall(r'/web/entities/Task/[^"]+">(task\d+)</a>', backwards.text)[0] == "task129"


def test_the_filter_takes_the_query_language(studio, web):
    wanted = 'type.name is "Compositing" and assignments any (resource.username is "jo")'
    page = web("coord").get(f"{studio.url}/web/projects/{studio.project}?filter={quote(wanted)}")
    expected = studio.query(f'Task where project_id is "{studio.project}" and {wanted}')
    assert page.status_code == 200 and sorted(task_rows(page.text)) == sorted(t["id"] for t in expected)
    assert 0 < len(expected) < len(studio.query(f'Task where project_id is "{studio.project}"'))
    assert "value=\"type.name is &#34;Compositing&#34;" in page.text  # the box keeps what was typed


def test_a_bad_filter_is_a_message_at_its_position_not_an_error_page(studio, web):
    browser = web("coord")
    broken = browser.get(f"{studio.url}/web/projects/{studio.project}?filter={quote('status.name is ')}")
    assert broken.status_code == 400 and 'role="alert"' in broken.text
    assert "at character 15" in broken.text and "<mark> </mark>" in broken.text
    unknown = browser.get(f"{studio.url}/web/projects/{studio.project}?filter={quote('name is 1 and colour is 2')}")
    assert unknown.status_code == 400 and "colour" in unknown.text
    assert "at character 15" in unknown.text and "<mark>c</mark>olour is 2" in unknown.text
    sorted_ = browser.get(f"{studio.url}/web/projects/{studio.project}?filter={quote('name is 1 order by name')}")
    assert sorted_.status_code == 400 and "conditions only" in sorted_.text


def test_a_filter_cannot_widen_the_view_past_its_project(studio, web):
    widen = 'name is "x") or (name like "%"'
    page = web("admin").get(f"{studio.url}/web/projects/{studio.project}?filter={quote(widen)}")
    assert page.status_code == 400 and not task_rows(page.text)


def test_what_does_not_exist_or_is_not_visible_is_a_404_page(studio, web):
    missing = web("coord").get(f"{studio.url}/web/projects/00000000-0000-0000-0000-000000000000")
    hidden = web("free").get(f"{studio.url}/web/projects/{studio.project}")
    task = studio.query(f'Task where project_id is "{studio.project}" limit 1')[0]["id"]
    hidden_task = web("free").get(f"{studio.url}/web/entities/Task/{task}")
    odd = web("coord").get(f"{studio.url}/web/entities/NoSuchType/{task}")
    weird = web("coord").get(f"{studio.url}/web/entities/Task/" + quote('x" or 1'))
    for answer in (missing, hidden, hidden_task, odd, weird):
        assert answer.status_code == 404 and "Not found" in answer.text and "Traceback" not in answer.text
    assert "content-security-policy" in missing.headers


def test_names_holding_markup_show_as_text(studio, web):
    for path in (f"/web/projects/{studio.other_project}", f"/web/entities/Task/{studio.hostile_task}",
                 "/web/activity", "/web/my-tasks"):
        page = web("admin").get(studio.url + path).text
        assert HOSTILE_SHOT not in page and HOSTILE_TASK not in page and "<img src=x" not in page
    sheet = web("admin").get(f"{studio.url}/web/projects/{studio.other_project}").text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in sheet
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.pwned=2&#34;&gt;" in sheet


def test_the_freelancer_sees_their_project(studio, web):
    page = web("free").get(f"{studio.url}/web/projects/{studio.other_project}")
    assert page.status_code == 200 and task_rows(page.text) == [studio.hostile_task]


def test_static_files_are_versioned_and_cached(studio):
    page = requests.get(f"{studio.url}/web/signin").text
    script = re.search(r'<script src="(/web/static/[0-9a-f]+/web.js)" defer></script>', page).group(1)
    answer = requests.get(studio.url + script)
    assert answer.status_code == 200 and "immutable" in answer.headers["cache-control"]
    assert answer.headers["content-type"].startswith("text/javascript")
    assert requests.get(f"{studio.url}/web/static/old/web.js").headers["cache-control"] == "no-cache"
    assert requests.get(f"{studio.url}/web/static/x/nothing.js").status_code == 404


def test_the_default_order_walks_the_tree_and_pages_without_skipping_or_repeating(studio, web):
    """Pages end inside a shot and resume just after its last row shown, both ways; a bad cursor is a message."""
    schema = studio.query('ProjectSchema where name is "VFX"')[0]["id"]
    project = new_id()
    operations = [{"action": "create", "entity_type": "Project",
                   "entity_data": {"id": project, "name": "tree", "full_name": "Tree", "project_schema_id": schema}}]
    expected = []
    statuses = studio.query("select name from Status")
    status_of = {}

    def task_data(task, name, parent):
        status_of[task] = statuses[len(status_of) % len(statuses)]
        return {"id": task, "name": name, "parent_id": parent, "status_id": status_of[task]["id"]}

    def create(kind, name, parent, tasks=0):
        entity = new_id()
        operations.append({"action": "create", "entity_type": kind, "entity_data": {"id": entity, "name": name, "parent_id": parent}})
        for number in range(tasks):
            task = new_id()
            operations.append({"action": "create", "entity_type": "Task",
                               "entity_data": task_data(task, f"t{number:03d}", entity)})
            expected.append(task)
        return entity

    # Created out of name order; walked as: the project's own tasks, then its children by name, each walked alike.
    sequence_b = create("Sequence", "sqB", project)
    for number in range(3):
        task = new_id()
        operations.append({"action": "create", "entity_type": "Task",
                           "entity_data": task_data(task, f"p{number}", project)})
        expected.append(task)
    create("AssetBuild", "ab", project, tasks=5)
    sequence_a = create("Sequence", "sqA", project)
    create("Shot", "shA1", sequence_a, tasks=60)
    create("Shot", "shA2", sequence_a, tasks=70)  # the first page ends inside it, at its 32nd task
    b_tasks = [new_id(), new_id()]
    for number, task in enumerate(b_tasks):
        operations.append({"action": "create", "entity_type": "Task",
                           "entity_data": task_data(task, f"b{number}", sequence_b)})
    expected += b_tasks
    create("Shot", "shB1", sequence_b, tasks=40)
    create("Shot", "shB0", sequence_b)  # a shot without tasks is walked past
    studio.call(*operations)
    browser = web("admin")

    def pages(query):
        seen, url = [], f"{studio.url}/web/projects/{project}{query}"
        while url:
            page = browser.get(url)
            assert page.status_code == 200
            seen.append(task_rows(page.text))
            following = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', page.text)
            url = following and studio.url + following.group(1).replace("&amp;", "&")
        return seen

    forwards = pages("")
    assert [len(page) for page in forwards] == [100, 80]
    assert forwards[0] + forwards[1] == expected
    backwards = pages("?order=desc")
    assert [len(page) for page in backwards] == [100, 80]
    assert backwards[0] + backwards[1] == expected[::-1]
    # By status: each status's tasks in turn (statuses by name, then id), each status's by id; by type: none has one.
    by_status = sorted(expected, key=lambda t: (status_of[t]["name"], status_of[t]["id"], t))
    assert [task for page in pages("?sort=status") for task in page] == by_status
    assert [task for page in pages("?sort=status&order=desc") for task in page] == by_status[::-1]
    assert [task for page in pages("?sort=type") for task in page] == sorted(expected)
    forged = browser.get(f"{studio.url}/web/projects/{project}?after=w.bm90IGEgY3Vyc29y")
    assert forged.status_code == 400 and "not one the sheet gave" in forged.text
