"""Per-application services, built once by the app factory and kept on ``app.state.ctx``.

Later services (cluster registry, task engine, upload registry, monitoring) belong here as
fields, built in :meth:`AppContext.from_settings` and started/stopped in
:meth:`startup`/:meth:`shutdown`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from hanami.server.bootstrap import bootstrap_admin
from hanami.server.config import ConfigError, ServerSettings
from hanami.server.db.migrate import upgrade
from hanami.server.db.models import ErrorLog
from hanami.server.db.session import Database
from hanami.server.metrics import Metrics
from hanami.server.policy import Policy
from hanami.server.ratelimit import LoginRateLimiter

__all__ = ["AppContext"]

logger = logging.getLogger("hanami.server")


@dataclass
class AppContext:
    settings: ServerSettings
    database: Database
    policy: Policy
    token_key: bytes = field(repr=False)
    login_limiter: LoginRateLimiter
    metrics: Metrics
    ready: bool = False

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> AppContext:
        """Validate configuration and build services; touches nothing but the key file."""
        token_key = settings.load_token_key()
        if settings.policies is not None:
            try:
                policy = Policy.load(settings.policies)
            except OSError as exc:
                raise ConfigError(f"cannot read policy file {settings.policies}: {exc}") from exc
        else:
            policy = Policy.default()
        return cls(
            settings=settings,
            database=Database(settings.sqlalchemy_url),
            policy=policy,
            token_key=token_key,
            login_limiter=LoginRateLimiter(
                max_failures=settings.login_max_failures,
                max_failures_per_address=settings.login_max_failures_per_address,
                window=settings.login_failure_window,
            ),
            metrics=Metrics(),
        )

    def startup(self) -> None:
        """Create folders, migrate the database, create the first admin."""
        for directory in self.settings.storage_dirs:
            directory.mkdir(parents=True, exist_ok=True)
        logger.info("database %s", self.database.display_url)
        upgrade(self.database)
        bootstrap_admin(self.database, self.settings)
        self.ready = True

    def shutdown(self) -> None:
        self.ready = False
        self.database.dispose()

    def record_error(
        self, correlation_id: str, user_id: str, context: str, input_values: str, message: str
    ) -> None:
        """Write one ``error_log`` row (used by the 500 boundary)."""
        try:
            json.loads(input_values)
        except ValueError:
            input_values = "{}"
        with self.database.session() as session:
            session.add(
                ErrorLog(
                    user_id=user_id,
                    component="api",
                    context=context,
                    input_values=input_values,
                    message=message,
                    correlation_id=correlation_id,
                )
            )
            session.commit()
