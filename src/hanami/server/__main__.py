"""``python -m hanami.server``: run the service (arguments win over HANAMI_* and the file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hanami.server.config import ConfigError, ServerSettings
from hanami.server.security.policy import PolicyError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hanami.server", description=__doc__)
    parser.add_argument(
        "-c",
        "--config",
        dest="config_file",
        type=Path,
        help="original-format INI file (HANAMI_CONFIG_FILE)",
    )
    parser.add_argument("--data-dir", type=Path, help="data folder (default ./.hanami)")
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default 11418)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default SQLite in data dir)")
    parser.add_argument("--policies", type=Path, help="policy file (default: embedded)")
    parser.add_argument("-d", "--debug", action="store_true", default=None, help="debug logging")
    parser.add_argument(
        "-g",
        "--openapi",
        type=Path,
        metavar="FILE",
        help="write the OpenAPI document to FILE and exit",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    openapi_file = args.pop("openapi")
    overrides: dict[str, Any] = {k: v for k, v in args.items() if v is not None}
    try:
        settings = ServerSettings(**overrides)
        if openapi_file is not None:
            from hanami.server.app import create_app

            openapi_file.write_text(json.dumps(create_app(settings).openapi(), indent=2))
            return 0
        from hanami.server.runner import serve

        serve(settings)
    except (ConfigError, PolicyError, ValidationError) as exc:
        print(f"hanami: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
