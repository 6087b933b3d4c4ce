"""ftrack's invitations by mail: refused, saying what to do instead (this server sends no mail)."""

from ftrack_like_api.server.protocols.ftrack.invites import register


def test_an_invitation_is_refused_with_what_to_do_and_nothing_changes(backend, call):
    register(backend)  # as create_app does
    user = call.create("User", username="invited")["id"]
    error = call.error({"action": "send_user_invite", "user_id": user})
    assert error["error_code"] == "not_supported" and "sends no mail" in error["content"]
    assert "ftrack-like user password" in error["content"]
    error = call.error({"action": "send_review_session_invite", "review_session_invitee_id": "someone"})
    assert error["error_code"] == "not_supported" and "link yourself" in error["content"]
    assert [row["username"] for row in call.query(f"select username from User where id is {user}")] == ["invited"]
