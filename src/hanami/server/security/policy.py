"""Role policy in the original OpenHanami file format.

A policy file is a sequence of blocks. Each block starts with an endpoint key (the request
path without its leading ``/``, e.g. ``v1.0alpha/dataset/all``), followed by one or more
lines ``- METHOD: role, role``::

    v1.0alpha/dataset
    - GET: admin, member
    - DELETE: admin

It is a whitelist: a missing block or method line denies. If a key appears twice the first
block wins; inside a block a repeated method keeps its last list. Blank lines and extra
spaces are ignored. ``#`` starts a comment (an extension; the original has no comments).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_POLICY", "METHODS", "Policy", "PolicyError"]

METHODS = ("GET", "POST", "PUT", "DELETE")

_ENDPOINT_RE = re.compile(r"^[A-Za-z0-9/\-._]+$")
_RULE_RE = re.compile(r"^-\s*([A-Za-z]+)\s*:\s*(.*)$")
_ROLE_RE = re.compile(r"^[A-Za-z0-9_]+$")


class PolicyError(ValueError):
    """A syntax error in a policy file, with source name and line number."""

    def __init__(self, source: str, lineno: int, message: str) -> None:
        super().__init__(f"{source}, line {lineno}: {message}")
        self.source = source
        self.lineno = lineno


@dataclass(frozen=True)
class Policy:
    """Allowed roles per (endpoint key, method)."""

    rules: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    source: str = "<policy>"

    @classmethod
    def parse(cls, text: str, source: str = "<policy>") -> Policy:
        rules: dict[str, dict[str, frozenset[str]]] = {}
        current: dict[str, frozenset[str]] | None = None
        current_key = ""
        current_line = 0
        seen_rule = True

        def close_block() -> None:
            if not seen_rule:
                raise PolicyError(source, current_line, f"endpoint {current_key!r} has no rules")

        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("-"):
                match = _RULE_RE.match(line)
                if match is None:
                    raise PolicyError(source, lineno, f"expected '- METHOD: roles', got {line!r}")
                if current is None:
                    raise PolicyError(source, lineno, "rule before the first endpoint key")
                method = match.group(1)
                if method not in METHODS:
                    raise PolicyError(
                        source, lineno, f"unknown method {method!r} (use {', '.join(METHODS)})"
                    )
                roles = [r.strip() for r in match.group(2).split(",")]
                if not roles or any(not r for r in roles):
                    raise PolicyError(source, lineno, "empty role name in the role list")
                for role in roles:
                    if not _ROLE_RE.match(role):
                        raise PolicyError(
                            source, lineno, f"invalid role name {role!r} (letters, digits, '_')"
                        )
                current[method] = frozenset(roles)
                seen_rule = True
                continue
            if not _ENDPOINT_RE.match(line):
                raise PolicyError(
                    source, lineno, f"expected an endpoint key or '- METHOD: roles', got {line!r}"
                )
            close_block()
            current_key, current_line, seen_rule = line, lineno, False
            # The first block of a key wins: a later duplicate is parsed, then dropped.
            current = {} if line in rules else rules.setdefault(line, {})
        close_block()
        return cls(rules=rules, source=source)

    @classmethod
    def load(cls, path: Path | str) -> Policy:
        path = Path(path)
        return cls.parse(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def default(cls) -> Policy:
        return cls.parse(DEFAULT_POLICY, source="<default policy>")

    def allows(self, endpoint: str, method: str, role: str) -> bool:
        """True if ``role`` may call ``method`` on ``endpoint`` (key without leading ``/``)."""
        return role in self.rules.get(endpoint.lstrip("/"), {}).get(method.upper(), frozenset())

    def __iter__(self) -> Iterator[tuple[str, str, frozenset[str]]]:
        for endpoint, methods in self.rules.items():
            for method, roles in methods.items():
                yield endpoint, method, roles


_MEMBER = "admin, member"

DEFAULT_POLICY = f"""\
# Embedded default policy: the roles of OpenHanami's example_configs/openhanami/policies for
# the endpoints that exist, plus the API-token endpoints.
v1.0alpha/token
- PUT: {_MEMBER}

v1.0alpha/api_token
- GET: {_MEMBER}
- POST: {_MEMBER}
- DELETE: {_MEMBER}

v1.0alpha/api_token/all
- GET: {_MEMBER}

v1.0alpha/user
- GET: admin
- POST: admin
- DELETE: admin

v1.0alpha/user/all
- GET: admin

v1.0alpha/user/project
- GET: {_MEMBER}
- POST: {_MEMBER}
- DELETE: {_MEMBER}

v1.0alpha/project
- GET: admin
- POST: admin
- DELETE: admin

v1.0alpha/project/all
- GET: admin

v1.0alpha/cluster
- GET: {_MEMBER}
- POST: {_MEMBER}
- DELETE: {_MEMBER}

v1.0alpha/cluster/all
- GET: {_MEMBER}

v1.0alpha/cluster/save
- POST: {_MEMBER}

v1.0alpha/cluster/load
- POST: {_MEMBER}

v1.0alpha/cluster/set_mode
- PUT: {_MEMBER}

v1.0alpha/cluster/switch_host
- PUT: {_MEMBER}

v1.0alpha/task/train
- POST: {_MEMBER}

v1.0alpha/task/request
- POST: {_MEMBER}

v1.0alpha/task
- GET: {_MEMBER}
- DELETE: {_MEMBER}

v1.0alpha/task/all
- GET: {_MEMBER}

v1.0alpha/dataset/upload/mnist
- POST: {_MEMBER}
- PUT: {_MEMBER}

v1.0alpha/dataset/upload/csv
- POST: {_MEMBER}
- PUT: {_MEMBER}

v1.0alpha/dataset/upload
- POST: {_MEMBER}

v1.0alpha/dataset/check
- GET: {_MEMBER}

v1.0alpha/dataset/progress
- GET: {_MEMBER}

v1.0alpha/dataset/content
- GET: {_MEMBER}

v1.0alpha/dataset
- GET: {_MEMBER}
- DELETE: {_MEMBER}

v1.0alpha/dataset/all
- GET: {_MEMBER}

v1.0alpha/checkpoint
- GET: {_MEMBER}
- DELETE: {_MEMBER}

v1.0alpha/checkpoint/all
- GET: {_MEMBER}

v1.0alpha/checkpoint/download
- GET: {_MEMBER}

v1.0alpha/checkpoint/upload
- POST: {_MEMBER}

v1.0alpha/audit_log
- GET: {_MEMBER}

v1.0alpha/error_log
- GET: admin

v1.0alpha/host/all
- GET: {_MEMBER}

v1.0alpha/power_consumption
- GET: {_MEMBER}

v1.0alpha/speed
- GET: {_MEMBER}

v1.0alpha/temperature_production
- GET: {_MEMBER}

v1.0alpha/system_info
- GET: {_MEMBER}

v1.0alpha/threading
- GET: {_MEMBER}
"""
