"""The original OpenHanami configuration file: its INI dialect and its keys.

Kept apart from :mod:`hanami.server.config` because reading the file is a job of its own
(a small parser with line-numbered errors and a pydantic-settings source), while the settings
model only says which source wins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["INI_KEYS", "ConfigError", "IniSettingsSource", "parse_ini"]

INI_KEYS: dict[tuple[str, str], str] = {
    ("DEFAULT", "debug"): "debug",
    ("DEFAULT", "log_path"): "log_path",
    ("DEFAULT", "database"): "database",
    ("DEFAULT", "database_url"): "database_url",  # extension
    ("DEFAULT", "data_dir"): "data_dir",  # extension
    ("storage", "dataset_location"): "dataset_location",
    ("storage", "checkpoint_location"): "checkpoint_location",
    ("storage", "tempfile_location"): "tempfile_location",
    ("storage", "tempfile_timeout"): "tempfile_timeout",
    ("processing", "use_of_free_memory"): "use_of_free_memory",
    ("auth", "token_key_path"): "token_key_path",
    ("auth", "token_expire_time"): "token_expire_time",
    ("auth", "policies"): "policies",
    ("http", "ip"): "host",
    ("http", "port"): "port",
    ("http", "number_of_threads"): "number_of_threads",
}
"""(group, key) of the original configuration file -> settings field. Other keys are ignored."""


class ConfigError(ValueError):
    """A configuration file or value that the server cannot start with."""


_GROUP_RE = re.compile(r"^\[\s*([A-Za-z0-9_.\-]+)\s*\]$")
_ITEM_RE = re.compile(r"^([A-Za-z0-9_.\-]+)\s*=\s*(.*)$")
_INT_RE = re.compile(r"^-?\d+$")
_FLOAT_RE = re.compile(r"^-?\d+\.\d+$")
_QUOTED_RE = re.compile(r'^"((?:[^"\\]|\\.)*)"$')
_BARE_RE = re.compile(r"^[A-Za-z0-9%\-+/@.:_]+$")


def _strip_comment(line: str) -> str:
    in_quotes = False
    escaped = False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and in_quotes:
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == "#" and not in_quotes:
            return line[:i]
    return line


def _parse_value(raw: str, where: str) -> Any:
    if raw.startswith('"'):
        if not (match := _QUOTED_RE.match(raw)):
            raise ConfigError(f"{where}: unterminated or malformed quoted string {raw!r}")
        return re.sub(r"\\(.)", r"\1", match.group(1))
    if raw in ("true", "True"):
        return True
    if raw in ("false", "False"):
        return False
    if _INT_RE.match(raw):
        return int(raw)
    if _FLOAT_RE.match(raw):
        return float(raw)
    if _BARE_RE.match(raw):
        return raw
    raise ConfigError(
        f"{where}: invalid value {raw!r} (quote strings that contain other characters)"
    )


def parse_ini(text: str, source: str = "<config>") -> dict[tuple[str, str], Any]:
    """Parse the original INI dialect into ``{(group, key): value}``.

    Items before the first ``[group]`` belong to ``DEFAULT``. ``#`` starts a comment outside
    quotes. Values are quoted strings, bare words, ints, floats or booleans. Errors name the
    line.
    """
    values: dict[tuple[str, str], Any] = {}
    group = "DEFAULT"
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw_line).strip()
        if not line:
            continue
        where = f"{source}, line {lineno}"
        if match := _GROUP_RE.match(line):
            group = match.group(1)
            continue
        if match := _ITEM_RE.match(line):
            key, raw_value = match.group(1), match.group(2).strip()
            if not raw_value:
                raise ConfigError(f"{where}: item {key!r} has no value")
            values[(group, key)] = _parse_value(raw_value, where)
            continue
        raise ConfigError(f"{where}: expected '[group]' or 'key = value', got {line!r}")
    return values


class IniSettingsSource(PydanticBaseSettingsSource):
    """Reads the registered keys of an original-format configuration file."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover - __call__ does the work

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {self.path}: {exc}") from exc
        parsed = parse_ini(text, str(self.path))
        return {INI_KEYS[key]: value for key, value in parsed.items() if key in INI_KEYS}
