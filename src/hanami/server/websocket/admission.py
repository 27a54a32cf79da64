"""Admitting a websocket: the init message parsed, its token checked, the target found in the
caller's scope, the policy applied and the session audited."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hanami.server.api.schemas import UuidStr
from hanami.server.context import AppContext
from hanami.server.db.models import ApiToken, AuditLog, Cluster, Dataset, Tempfile
from hanami.server.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    format_validation_errors,
)
from hanami.server.runtime.upload_handles import UploadHandle
from hanami.server.security.auth import Principal, authenticate
from hanami.server.security.credentials import (
    API_TOKEN_PREFIX,
    InvalidToken,
    decode_access_token,
    hash_api_token,
)
from hanami.server.security.tenancy import in_scope
from hanami.server.websocket.direct_io import require_direct_mode

__all__ = ["Admission", "InitMessage", "admit", "init_reply", "parse_init"]


class InitMessage(BaseModel):
    """The first message of every websocket."""

    model_config = ConfigDict(extra="forbid", strict=True)

    token: str = Field(min_length=1, max_length=8192)
    target: Literal["cluster", "file_upload"]
    uuid: UuidStr
    batched: bool = Field(
        False, description="extension: batched direct I/O (target cluster only, opt-in)"
    )


def token_expiry(session: Session, ctx: AppContext, token: str) -> float | None:
    """Unix time at which ``token`` (JWT or API token) expires; None: never."""
    if token.startswith(API_TOKEN_PREFIX):
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_api_token(token)))
        if row is None or row.expires_at is None:
            return None
        return row.expires_at.replace(tzinfo=UTC).timestamp()
    try:
        return float(decode_access_token(ctx.token_key, token).expires_at)
    except InvalidToken as exc:  # pragma: no cover - authenticate() checked it already
        raise Unauthorized(f"Failed to validate JWT-Token: {exc}") from exc


@dataclass
class Admission:
    """Who was admitted, until when, and (file upload) the tempfile they write to."""

    principal: Principal
    expires_at: float | None
    upload: UploadHandle | None = None


def admit(ctx: AppContext, init: InitMessage, client_address: str | None) -> Admission:
    """Authenticate, look the target up in the caller's scope, check the policy, audit."""
    with ctx.database.session() as session:
        principal = authenticate(session, ctx.token_key, init.token)
        expires_at = token_expiry(session, ctx, init.token)
        admission = Admission(principal, expires_at)

        def allow(endpoint: str, method: str) -> None:
            if not ctx.policy.allows(endpoint, method, principal.role):
                raise Forbidden(
                    f"Access denied by policy: role '{principal.role}' may not {method} {endpoint}"
                )

        if init.target == "file_upload":
            tempfile = session.get(Tempfile, init.uuid)
            if tempfile is None or not in_scope(principal, tempfile):
                raise NotFound(f"Tempfile with UUID '{init.uuid}' not found")
            dataset = session.get(Dataset, tempfile.related_resource_uuid)
            if dataset is None:
                raise NotFound(f"Tempfile with UUID '{init.uuid}' not found")
            allow(f"v1.0alpha/dataset/upload/{dataset.kind}", "POST")
            if init.batched:
                raise BadRequest("'batched' is only available for target 'cluster'")
            admission.upload = ctx.uploads.attach(init.uuid, principal)
        else:
            cluster = session.get(Cluster, init.uuid)
            if cluster is None or not in_scope(principal, cluster):
                raise NotFound(f"Cluster with UUID '{init.uuid}' not found")
            allow("v1.0alpha/cluster/set_mode", "PUT")

            require_direct_mode(ctx, init.uuid)
        session.add(
            AuditLog(
                user_id=principal.user_id,
                endpoint=f"websocket/{init.target}",
                request_type="WEBSOCKET",
                client_address=client_address,
            )
        )
        try:
            session.commit()
        except BaseException:
            if admission.upload is not None:
                ctx.uploads.detach(admission.upload)
            raise
        return admission


def parse_init(raw: bytes | str) -> InitMessage:
    """The init message, or the error that the HTTP API would answer for the same input."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(f"json-parser error: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("json-parser error: the init message must be a JSON object")
    if not data.get("token"):  # like HTTP: no credentials is 401 before any 400
        raise Unauthorized("Missing token: send it as 'token' in the init message")
    try:
        return InitMessage.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(format_validation_errors(list(exc.errors()))) from exc


def init_reply(success: bool, **fields: Any) -> bytes:
    """The answer to the init message (a binary frame, as in the original)."""
    return json.dumps({"success": success, **fields}).encode()
