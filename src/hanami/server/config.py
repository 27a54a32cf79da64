"""Server settings: embedded defaults < original INI file < ``HANAMI_*`` environment < arguments.

The INI file keeps the original OpenHanami format and keys (``[DEFAULT] database``,
``[auth] token_key_path``, ``[http] port``, ...); :mod:`hanami.server.config_file` reads it
and its ``INI_KEYS`` maps them onto :class:`ServerSettings` fields. Every field can also be
set with ``HANAMI_<FIELD>`` in the environment, which wins over the file. Nothing here runs
at import time: build a ``ServerSettings()`` and hand it to
:func:`hanami.server.app.create_app`.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hanami.datasets.limits import ParseLimits
from hanami.server.config_file import INI_KEYS, ConfigError, IniSettingsSource, parse_ini
from hanami.server.runtime.journal import SYNC_INTERVAL_S, JournalSync
from hanami.server.security.proxies import ForwardedHeader, IPNetwork

__all__ = [
    "INI_KEYS",
    "MIN_TOKEN_KEY_BYTES",
    "ConfigError",
    "ServerSettings",
    "parse_ini",
]

MIN_TOKEN_KEY_BYTES = 32
"""Shortest accepted JWT HMAC key (256 bits)."""

TOKEN_KEY_FILE_NAME = "token_key"
_LIMITS = ParseLimits()


class ServerSettings(BaseSettings):
    """Everything the service reads from its environment.

    Paths left unset are derived from ``data_dir`` (``./.hanami`` by default): the SQLite
    database ``hanami.db``, the ``datasets``/``checkpoints``/``tempfiles`` folders and the
    generated JWT key file ``token_key``.
    """

    model_config = SettingsConfigDict(
        env_prefix="HANAMI_",
        extra="ignore",
        env_ignore_empty=True,
        validate_default=True,
    )

    config_file: Path | None = Field(None, description="original-format INI file to read")
    debug: bool = False
    log_level: str = "info"
    log_path: Path | None = Field(None, description="folder for hanami.log; console only if unset")

    data_dir: Path = Path(".hanami")
    database: Path | None = Field(None, description="SQLite file; default <data_dir>/hanami.db")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL overriding `database`, e.g. postgresql+psycopg://..."
    )
    dataset_location: Path | None = None
    checkpoint_location: Path | None = None
    tempfile_location: Path | None = None
    tempfile_timeout: int = Field(10, ge=1, description="minutes before an idle upload is dropped")
    cluster_location: Path | None = Field(
        None, description="autosaved cluster states; default <data_dir>/clusters"
    )
    cluster_autosave_interval: int = Field(
        300, ge=1, description="seconds between autosaves of a changed cluster"
    )
    journal_sync: JournalSync = Field(
        "interval",
        description="when an acknowledged direct-I/O step reaches the disk: 'always' (fdatasync "
        "before the answer) or 'interval' (written before the answer, synced in the background)",
    )
    journal_sync_interval: float = Field(
        SYNC_INTERVAL_S, gt=0, le=60, description="seconds between syncs (journal_sync=interval)"
    )
    task_workers: int = Field(0, ge=0, description="clusters running tasks at once; 0 = CPUs")
    replica_id: str | None = Field(
        None, max_length=256, description="name among replicas sharing a database; <host>:<port>"
    )
    task_lease_s: float = Field(
        10.0, gt=0, description="seconds without a heartbeat before a replica's work is taken over"
    )
    executor: Literal["inprocess", "ray"] = Field(
        "inprocess", description="where clusters live: this process, or actors on a Ray cluster"
    )
    ray_address: str | None = Field(
        None, description="host:port of the Ray cluster's head (HANAMI_EXECUTOR=ray)"
    )
    ray_actor_cpus: float = Field(1.0, gt=0, description="CPUs Ray reserves per cluster actor")
    cluster_max_bytes: int = Field(
        1 << 30,
        ge=0,
        description="memory a cluster's buffers may grow to while it learns; at the limit it "
        "keeps learning with the structure it has (0 = no limit)",
    )
    ray_lease_ttl: float = Field(
        60.0, gt=0, description="seconds an idle exclusive lease of a dead replica lasts"
    )
    tempfile_timeout_seconds: float | None = Field(
        None, gt=0, description="idle upload timeout in seconds; overrides tempfile_timeout"
    )
    use_of_free_memory: float = 0.5
    dataset_max_columns: int = Field(
        _LIMITS.max_columns, ge=1, description="most columns of an uploaded CSV or IDX file"
    )
    dataset_max_rows: int = Field(
        _LIMITS.max_rows, ge=1, description="most data rows of an uploaded CSV or IDX file"
    )
    dataset_max_bytes: int = Field(
        _LIMITS.max_bytes, ge=1, description="largest uploaded file, in bytes after decompression"
    )

    host: str = "127.0.0.1"
    port: int = Field(11418, ge=0, le=65535)
    number_of_threads: int = Field(4, ge=1)

    token_key: SecretStr | None = Field(None, description="JWT HMAC key (at least 32 bytes)")
    token_key_path: Path | None = Field(None, description="file whose raw content is the key")
    token_expire_time: int = Field(3600, ge=1, le=30 * 24 * 3600, description="JWT lifetime (s)")
    policies: Path | None = Field(None, description="policy file; embedded default if unset")
    forbidden_status: Literal[401, 403] = Field(
        403, description="status for authenticated-but-not-allowed (401 = original behaviour)"
    )

    admin_user_id: str | None = None
    admin_user_name: str | None = None
    admin_passphrase: SecretStr | None = None

    login_max_failures: int = Field(10, ge=1, description="per user id and client address")
    login_max_failures_per_address: int = Field(100, ge=1, description="per client address")
    login_failure_window: int = Field(60, ge=1, description="seconds failures are remembered")
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = Field(
        (), description="comma-separated proxy addresses/CIDRs whose forwarded header is read"
    )
    forwarded_header: ForwardedHeader = Field(
        "x-forwarded-for", description="the header the trusted proxies write: or 'forwarded'"
    )

    max_json_body_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="largest body outside the upload routes (413)"
    )
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="largest request line plus headers (431)"
    )
    max_header_count: int = Field(100, ge=8, description="most request headers (431)")

    project_max_storage_bytes: int = Field(
        100 * 1024**3, ge=0, description="datasets, checkpoints and uploads; 0 = no limit (413)"
    )
    project_max_datasets: int = Field(10_000, ge=0, description="0 = no limit (409)")
    project_max_clusters: int = Field(1_000, ge=0, description="0 = no limit (409)")
    project_max_uploads: int = Field(
        16, ge=0, description="unfinished uploads at a time; 0 = no limit (429)"
    )

    metrics_enabled: bool = True
    energy_policy: bool = Field(
        False, description="pin threads and clock idle CPUs down (docs/compatibility.md)"
    )
    access_log: bool = True
    shutdown_timeout: float = Field(
        2.0, gt=0, description="seconds running requests get after SIGTERM before cancellation"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path: Any = None
        if isinstance(init_settings, InitSettingsSource):
            path = init_settings.init_kwargs.get("config_file")
        path = path or os.environ.get("HANAMI_CONFIG_FILE") or None
        ini = IniSettingsSource(settings_cls, Path(path) if path else None)
        return init_settings, env_settings, ini

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> Any:
        parts = value.split(",") if isinstance(value, str) else value
        try:
            return tuple(ipaddress.ip_network(str(p).strip()) for p in parts if str(p).strip())
        except ValueError as exc:
            raise ValueError(f"trusted proxies: {exc}") from None

    @field_validator("forwarded_header", mode="before")
    @classmethod
    def _lower_header(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("use_of_free_memory")
    @classmethod
    def _clamp_memory_share(cls, value: float) -> float:
        return min(max(value, 0.1), 0.9)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"critical", "error", "warning", "info", "debug", "trace"}:
            raise ValueError(f"unknown log level {value!r}")
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> ServerSettings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.database is None:
            self.database = self.data_dir / "hanami.db"
        if self.dataset_location is None:
            self.dataset_location = self.data_dir / "datasets"
        if self.checkpoint_location is None:
            self.checkpoint_location = self.data_dir / "checkpoints"
        if self.tempfile_location is None:
            self.tempfile_location = self.data_dir / "tempfiles"
        if self.cluster_location is None:
            self.cluster_location = self.data_dir / "clusters"
        self.database = self.database.expanduser().resolve()
        if self.debug:
            self.log_level = "debug"
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL: ``database_url`` if set, else the SQLite file ``database``."""
        return self.database_url or f"sqlite:///{self.database}"

    @property
    def parse_limits(self) -> ParseLimits:
        """What an uploaded dataset file may hold (checked while it is converted)."""
        return ParseLimits(self.dataset_max_columns, self.dataset_max_rows, self.dataset_max_bytes)

    @property
    def storage_dirs(self) -> tuple[Path, ...]:
        """Folders created at start-up."""
        dirs = (
            self.data_dir,
            self.dataset_location,
            self.checkpoint_location,
            self.tempfile_location,
            self.cluster_location,
        )
        return tuple(d for d in dirs if d is not None)

    def load_token_key(self) -> bytes:
        """Return the JWT key, generating ``<data_dir>/token_key`` (mode 0600) if none is given.

        Order: ``token_key`` (``HANAMI_TOKEN_KEY``), then the raw content of ``token_key_path``,
        then the key file in the data folder. Keys shorter than 32 bytes are rejected.
        """
        if self.token_key is not None:
            key = self.token_key.get_secret_value().encode()
            origin = "HANAMI_TOKEN_KEY"
        elif self.token_key_path is not None:
            try:
                key = self.token_key_path.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read token key file {self.token_key_path}: {exc}"
                ) from exc
            origin = str(self.token_key_path)
        else:
            path = self.data_dir / TOKEN_KEY_FILE_NAME
            key = _read_or_create_key_file(path)
            origin = str(path)
        if len(key) < MIN_TOKEN_KEY_BYTES:
            raise ConfigError(
                f"the JWT key from {origin} has {len(key)} bytes; at least {MIN_TOKEN_KEY_BYTES} "
                "are required (generate one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        return key


def _read_or_create_key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(secrets.token_bytes(48)))
    return path.read_bytes()
