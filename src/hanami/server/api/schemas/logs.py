"""What the log endpoints take."""

from __future__ import annotations

from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import Page, UserIdStr

__all__ = ["LogQuery"]


class LogQuery(InputModel):
    page: Page = 0
    user_id: UserIdStr | None = None
