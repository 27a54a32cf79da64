"""Create the first admin at start-up when the database has none.

Reads ``HANAMI_ADMIN_USER_ID``, ``HANAMI_ADMIN_USER_NAME`` and ``HANAMI_ADMIN_PASSPHRASE``
(through :class:`~hanami.server.config.ServerSettings`). Missing id and name default to
``admin`` / ``Administrator``; a missing passphrase is generated, printed once to stdout and
stored only as a hash. Once any admin exists the variables are ignored.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hanami.protocol.patterns import ID_EXT_RE, MIN_PASSPHRASE_LENGTH, NAME_RE
from hanami.server.config import ConfigError, ServerSettings
from hanami.server.db.models import User
from hanami.server.db.session import Database
from hanami.server.security.credentials import hash_password, new_security_stamp

__all__ = ["BOOTSTRAP_CREATOR", "bootstrap_admin"]

logger = logging.getLogger("hanami.server")

BOOTSTRAP_CREATOR = "HANAMI_INIT"
DEFAULT_ADMIN_ID = "admin"
DEFAULT_ADMIN_NAME = "Administrator"


def bootstrap_admin(
    database: Database, settings: ServerSettings, out: TextIO | None = None
) -> str | None:
    """Create the admin if no admin exists; return its id, or ``None`` if nothing was done."""
    out = out or sys.stdout
    with database.session() as session:
        if session.scalar(select(User.id).where(User.is_admin.is_(True)).limit(1)) is not None:
            if settings.admin_passphrase is not None:
                logger.info("an admin exists already; HANAMI_ADMIN_* variables are ignored")
            return None

        user_id = settings.admin_user_id or DEFAULT_ADMIN_ID
        name = settings.admin_user_name or DEFAULT_ADMIN_NAME
        if not re.fullmatch(ID_EXT_RE, user_id) or not 4 <= len(user_id) <= 254:
            raise ConfigError(f"HANAMI_ADMIN_USER_ID {user_id!r} is not a valid user id")
        if not re.fullmatch(NAME_RE, name) or not 4 <= len(name) <= 254:
            raise ConfigError(f"HANAMI_ADMIN_USER_NAME {name!r} is not a valid name")
        generated = settings.admin_passphrase is None
        passphrase = (
            secrets.token_urlsafe(24) if generated else settings.admin_passphrase.get_secret_value()  # type: ignore[union-attr]
        )
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise ConfigError(
                f"HANAMI_ADMIN_PASSPHRASE must have at least {MIN_PASSPHRASE_LENGTH} characters"
            )
        if session.get(User, user_id) is not None:
            raise ConfigError(
                f"user {user_id!r} exists but is not an admin; choose another HANAMI_ADMIN_USER_ID"
            )
        session.add(
            User(
                id=user_id,
                name=name,
                is_admin=True,
                creator_id=BOOTSTRAP_CREATOR,
                password_hash=hash_password(passphrase.encode()),
                security_stamp=new_security_stamp(),
            )
        )
        try:
            session.commit()
        except IntegrityError:  # another server process won the race
            session.rollback()
            return None

    logger.info("created initial admin user %r", user_id)
    if generated:
        rule = "=" * 72
        print(
            f"{rule}\nHanami created the initial admin user.\n"
            f"  user id:    {user_id}\n  passphrase: {passphrase}\n"
            "The passphrase is shown only this once and stored only as a hash.\n"
            f"Set HANAMI_ADMIN_PASSPHRASE before the first start to choose it yourself.\n{rule}",
            file=out,
            flush=True,
        )
    return user_id
