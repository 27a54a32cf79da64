"""The error boundary: every failure becomes one ``hanami: error:`` line and an exit code."""

from __future__ import annotations

import typer

from hanami.sdk import HanamiError, NotLoggedIn, StatusError, Unauthorized

__all__ = ["ENV_DEBUG", "CliError", "describe_error", "report_error"]

ENV_DEBUG = "HANAMI_DEBUG"


class CliError(Exception):
    """A user-facing error: printed as one line on stderr, then exit with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def _one_line(text: str) -> str:
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return "; ".join(parts) if parts else ""


def describe_error(exc: BaseException) -> tuple[str, int]:
    """``(message, exit code)`` for anything a command can raise."""
    if isinstance(exc, CliError):
        return exc.message, exc.exit_code
    if isinstance(exc, NotLoggedIn):
        return (
            f"not logged in ({exc.message}): run 'hanami login' or set HANAMI_USER and "
            "HANAMI_PASSPHRASE",
            1,
        )
    if isinstance(exc, Unauthorized):
        return f"{exc.message} (HTTP 401; log in again with 'hanami login')", 1
    if isinstance(exc, StatusError):
        reason = exc.response.reason_phrase or ""
        return f"{exc.message} (HTTP {exc.status_code}{' ' + reason if reason else ''})", 1
    if isinstance(exc, HanamiError):
        return exc.message, 1
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}", 1
    if isinstance(exc, typer.Abort):
        return "aborted", 1
    if isinstance(exc, typer.TyperException):  # usage errors of typer's own click
        return exc.format_message(), exc.exit_code
    return f"unexpected error: {type(exc).__name__}: {exc} (set {ENV_DEBUG}=1 for a traceback)", 1


def report_error(exc: BaseException) -> int:
    message, code = describe_error(exc)
    typer.echo(f"hanami: error: {_one_line(message)}", err=True)
    return code
