"""The ``Cli`` runner used by the CLI tests (kept out of conftest so tests can import it)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from hanami.cli.main import app


@dataclass
class Cli:
    """Runs ``hanami ARGS`` with a controlled environment."""

    config_dir: Path
    env: dict[str, str | None] = field(default_factory=dict)

    @property
    def token_cache(self) -> Path:
        return self.config_dir / "tokens.json"

    def run(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        environment: dict[str, str | None] = {
            k: None for k in os.environ if k.startswith("HANAMI_")
        }
        environment.update(
            HANAMI_CONFIG_DIR=str(self.config_dir),
            HANAMI_TOKEN_CACHE=str(self.token_cache),
            COLUMNS="200",
        )
        environment.update(self.env)
        environment.update(env)
        return CliRunner().invoke(app, list(args), input=input, env=environment)

    def ok(self, *args: str, **env: str | None) -> Result:
        result = self.run(*args, **env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert result.stderr == "" or "Traceback" not in result.stderr
        return result

    def json(self, *args: str, **env: str | None) -> Any:
        """Run with ``--json``; stdout must be exactly one JSON document."""
        return json.loads(self.ok("--json", *args, **env).stdout)

    def fails(self, *args: str, code: int | None = None, **env: str | None) -> str:
        """Run, expect a non-zero exit and exactly one ``hanami: error:`` line on stderr."""
        result = self.run(*args, **env)
        assert result.exit_code != 0, result.stdout
        if code is not None:
            assert result.exit_code == code, (result.exit_code, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("hanami: error: "), lines[0]
        assert "Traceback" not in result.output
        return lines[0].removeprefix("hanami: error: ")
