"""The Activity page over real HTTP: the log's events the visitor may read, narrowed by a subscription expression."""

from urllib.parse import quote


def test_activity_lists_what_the_subscription_matches_and_only_what_the_visitor_may_read(studio, web):
    studio.call({"action": "update", "entity_type": "Task", "entity_key": [studio.hostile_task],
                 "entity_data": {"description": "activity"}})  # fmt: skip
    everything = web("admin").get(f"{studio.url}/web/activity")
    assert everything.status_code == 200 and "ftrack.update" in everything.text and "description=activity" in everything.text
    assignments = quote("topic=ftrack.update and data.entities.entityType=Appointment")
    narrowed = web("admin").get(f"{studio.url}/web/activity?subscription={assignments}")
    assert narrowed.status_code == 200 and "Appointment" in narrowed.text and "description=activity" not in narrowed.text
    freelancer = web("free").get(f"{studio.url}/web/activity").text
    assert "description=activity" in freelancer  # their project's event
    assert "Appointment" not in freelancer  # the demo project's assignments are not theirs


def test_a_bad_subscription_is_a_message(studio, web):
    page = web("coord").get(f"{studio.url}/web/activity?subscription={quote('topic=(')}")
    assert page.status_code == 400 and 'role="alert"' in page.text and "Traceback" not in page.text
    stream = web("coord").get(f"{studio.url}/web/live?subscription={quote('topic=(')}")
    assert stream.status_code == 400
