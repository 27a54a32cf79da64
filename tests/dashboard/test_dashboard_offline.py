"""In headless Chromium with every request off 127.0.0.1 aborted: the API docs render from
the service's own files, and an unknown dashboard route lights no navigation link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from dashboard_helpers import DashboardServer, Problems

TIMEOUT_MS = 20_000
# ReDoc's "API docs by Redocly" footer asks for its logo and drops it when that fails.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def offline_page(chromium: Any) -> Iterator[tuple[Any, list[str], Problems]]:
    """A page whose requests to any host but 127.0.0.1 are aborted (and listed), and what
    went wrong in it."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []

    def gate(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", gate)
    problems = Problems()
    problems.watch(page)
    try:
        yield page, outside, problems
    finally:
        context.close()


def test_swagger_ui_offline(
    offline_page: tuple[Any, list[str], Problems], dashboard_server: DashboardServer
) -> None:
    page, outside, problems = offline_page
    page.goto(dashboard_server.url + "/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/v1.0alpha/token']")
    assert page.locator(".opblock").count() > 40
    assert page.locator(".information-container .title").inner_text().startswith("Hanami")
    assert outside == []
    assert problems.items == []


def test_redoc_offline(
    offline_page: tuple[Any, list[str], Problems], dashboard_server: DashboardServer
) -> None:
    page, outside, problems = offline_page
    page.goto(dashboard_server.url + "/redoc")
    page.wait_for_selector("h1:has-text('Hanami')")
    page.get_by_text("/v1.0alpha/project/all").first.wait_for(state="attached")
    assert page.locator("h2:text-is('List projects')").count() == 1
    assert set(outside) <= {REDOC_LOGO}
    assert [item for item in problems.items if REDOC_LOGO not in item] == []


def log_in(page: Any, server: DashboardServer) -> None:
    page.goto(server.url + "/")
    page.fill("#login-id", server.admin_id)
    page.fill("#login-passphrase", server.admin_passphrase)
    page.click("#login-submit")
    page.wait_for_selector(".nav-link.is-active[data-nav='clusters']")


def test_unknown_route_lights_no_nav_link(
    offline_page: tuple[Any, list[str], Problems], dashboard_server: DashboardServer
) -> None:
    page, _, _ = offline_page
    log_in(page, dashboard_server)
    page.evaluate("location.hash = '#/no/such/page'")
    page.wait_for_selector(".empty-state h2:text-is('Page not found')")
    assert page.locator(".nav-link.is-active").count() == 0
    assert page.locator("#page-title").inner_text() == "Not found"
    assert page.title() == "Not found · Hanami"
    page.evaluate("location.hash = '#/datasets'")
    page.wait_for_selector(".nav-link.is-active[data-nav='datasets']")
    assert page.locator(".nav-link.is-active").count() == 1
    assert page.title() == "Datasets · Hanami"


SENSORS = {
    "Power": ("power_consumption", "chart-power"),
    "Frequency": ("speed", "chart-speed"),
    "Temperature": ("temperature_production", "chart-temperature"),
}


def test_system_page_shows_absent_sensors_as_na(
    offline_page: tuple[Any, list[str], Problems], dashboard_server: DashboardServer
) -> None:
    page, _, problems = offline_page
    log_in(page, dashboard_server)
    page.evaluate("location.hash = '#/system'")
    page.wait_for_selector("#system-stats .stat-label:text-is('Power')")
    for label, (path, chart) in SENSORS.items():
        body = page.evaluate("async (path) => (await import('/js/api.js')).get(path)", path)
        stat = page.locator(
            "#system-stats .stat", has=page.locator(f".stat-label:text-is('{label}')")
        )
        value = stat.locator(".stat-value").inner_text()
        hint = page.locator(f".card:has(#{chart}) small.hint").inner_text()
        if body["source"] == "unavailable":
            assert value == "n/a", label
            assert stat.locator(".stat-sub").inner_text() == body["reason"]
            assert hint == f"n/a: {body['reason']}"
        else:
            assert value != "n/a" and not value.startswith("0 "), label
            assert hint.startswith(f"Source: {body['source']}")
    assert problems.items == []
