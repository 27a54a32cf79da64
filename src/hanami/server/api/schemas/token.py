"""What the login endpoints take."""

from __future__ import annotations

from hanami.server.api.inputs import InputModel
from hanami.server.api.schemas import IdStr, PassphraseStr, UserIdStr

__all__ = ["TokenCreate", "TokenRenew"]


class TokenCreate(InputModel):
    id: UserIdStr
    passphrase: PassphraseStr


class TokenRenew(InputModel):
    project_id: IdStr
