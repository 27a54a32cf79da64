"""The shared answer models keep the wire text of timestamps and hand Python datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from hanami.protocol.models import ApiToken, Task, User

USER = {
    "created_at": "2026-12-06 01:02:03",
    "id": "alice",
    "name": "Alice",
    "is_admin": False,
    "creator_id": "admin",
    "projects": [],
}


def test_timestamps_are_utc_datetimes_in_python_and_text_on_the_wire() -> None:
    user = User.model_validate(USER)
    assert user.created_at == datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC)
    assert user.model_dump(mode="json") == USER
    assert user.model_dump_json() == (
        '{"created_at":"2026-12-06 01:02:03","id":"alice","name":"Alice","is_admin":false,'
        '"creator_id":"admin","projects":[]}'
    )


def test_an_unset_timestamp_is_none_and_stays_a_dash() -> None:
    task = Task.model_validate({"uuid": "u", "state": "queued", "start_timestamp": "-"})
    assert task.start_timestamp is None and task.end_timestamp is None
    wire = task.model_dump(mode="json")
    assert (wire["queue_timestamp"], wire["start_timestamp"]) == ("-", "-")


def test_a_required_timestamp_refuses_a_dash_and_garbage() -> None:
    for bad in ("-", "yesterday"):
        with pytest.raises(ValidationError, match="timestamp"):
            User.model_validate({**USER, "created_at": bad})


def test_an_aware_timestamp_is_written_in_utc() -> None:
    token = ApiToken.model_validate(
        {
            "created_at": "2026-12-06T02:02:03+01:00",
            "id": "t",
            "user_id": "alice",
            "project_id": "p",
            "name": "ci",
            "expires_at": "-",
            "last_used_at": "-",
        }
    )
    assert token.model_dump(mode="json")["created_at"] == "2026-12-06 01:02:03"
    assert token.expires_at is None
