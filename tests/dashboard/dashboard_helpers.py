"""Helpers of the dashboard tests (fixtures live in conftest.py)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADMIN_ID = "dash_admin"
ADMIN_NAME = "Dashboard Admin"
ADMIN_PASSPHRASE = "dashboard admin passphrase"
TOKEN_KEY = "dashboard-test-key-" + "k" * 40
SHOTS_FOR_THE_LEAD = Path("/tmp/dashboard_shots")


@dataclass(frozen=True)
class DashboardServer:
    url: str
    data_dir: Path
    log_file: Path
    admin_id: str = ADMIN_ID
    admin_passphrase: str = ADMIN_PASSPHRASE


@dataclass
class Problems:
    """What went wrong in the browser: console errors, exceptions, failed requests."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on(
            "console",
            lambda msg: (
                msg.type in ("error", "assert")
                and self.items.append(
                    f"console {msg.type}: {msg.text} ({msg.location.get('url', '')})"
                )
            ),
        )
        page.on("pageerror", lambda exc: self.items.append(f"uncaught exception: {exc}"))
        page.on(
            "requestfailed",
            lambda req: self.items.append(f"request failed: {req.method} {req.url} {req.failure}"),
        )
        page.on(
            "response",
            lambda res: (
                res.status >= 400
                and self.items.append(f"HTTP {res.status}: {res.request.method} {res.url}")
            ),
        )


class Shots:
    """Numbered screenshots in the test's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.paths: dict[str, Path] = {}

    def take(self, page: Any, name: str, *, full_page: bool = True) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        # From the top, without the notifications of earlier steps.
        page.evaluate(
            "() => { window.scrollTo(0, 0); document.getElementById('toasts')?.remove(); }"
        )
        page.wait_for_timeout(150)
        page.screenshot(path=str(path), full_page=full_page)
        self.paths[name] = path
        return path

    def publish(self, *names: str) -> list[Path]:
        """Copy some screenshots to /tmp/dashboard_shots/ for people to look at."""
        SHOTS_FOR_THE_LEAD.mkdir(parents=True, exist_ok=True)
        out = []
        for name in names:
            target = SHOTS_FOR_THE_LEAD / f"{name}.png"
            shutil.copyfile(self.paths[name], target)
            out.append(target)
        return out
