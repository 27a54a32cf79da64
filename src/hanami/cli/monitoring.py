"""``hanami logs`` and ``hanami metrics``."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table as RichTable

from hanami.cli._app import JsonOpt, new_typer
from hanami.cli._output import emit, emit_object, emit_table, stdout_console
from hanami.cli._state import state_of
from hanami.sdk import TimeSeries

__all__ = ["logs_app", "metrics_app", "parse_prometheus"]

logs_app = new_typer("Audit log (your requests) and error log (admin).")
metrics_app = new_typer("Measurements of the server machine and Prometheus metrics.")

PageOpt = Annotated[int, typer.Option("--page", "-p", help="Page of 100 rows.", min=0)]
UserOpt = Annotated[
    str | None, typer.Option("--user", "-u", help="Another user's log (admins only).")
]


@logs_app.command("audit")
def logs_audit(
    ctx: typer.Context, page: PageOpt = 0, user: UserOpt = None, json_: JsonOpt = False
) -> None:
    """List the audit log: who called which endpoint (non-GET requests)."""
    state = state_of(ctx, json_)
    emit_table(state, state.client(ctx).logs.audit(page, user_id=user))


@logs_app.command("errors")
def logs_errors(
    ctx: typer.Context, page: PageOpt = 0, user: UserOpt = None, json_: JsonOpt = False
) -> None:
    """List the error log (admins)."""
    state = state_of(ctx, json_)
    columns = ("created_at", "user_id", "context", "message")
    emit_table(state, state.client(ctx).logs.errors(page, user_id=user), columns=columns)


# ------------------------------------------------------------------------------------ metrics


#: CLI name -> (endpoint, key of the series in its answer, unit).
SERIES = {
    "power": ("power_consumption", "power", "W"),
    "speed": ("speed", "current_speed", "MHz"),
    "temperature": ("temperature_production", "temperature", "°C"),
}
WINDOWS = ("seconds", "minutes", "hours", "days")
NOT_AVAILABLE = "n/a"


def measured(series: TimeSeries, window: str) -> list[float]:
    """The values of ``window`` that were measured: the server pads its ring buffers with
    zeros and says in ``filled`` how many values are real (an older server does not: then
    all are taken). Empty where the sensor is absent."""
    values: list[float] = getattr(series, window)
    if series.source == "unavailable":
        return []
    filled = (getattr(series, "filled", None) or {}).get(window, len(values))
    return values[len(values) - filled :] if filled else []


def _series(ctx: typer.Context, json_: bool, what: str) -> None:
    state = state_of(ctx, json_)
    path, key, unit = SERIES[what]
    body = state.client(ctx).request("GET", path)
    # The SDK keeps unknown fields, so reason and filled travel with the series.
    series = TimeSeries.model_validate(
        {**body[key], **{field: body.get(field) for field in ("source", "reason", "filled")}}
    )

    def render() -> None:
        table = RichTable(title=f"{what} ({unit})", box=box.SIMPLE_HEAVY)
        for column in ("window", "latest", "min", "mean", "max"):
            table.add_column(column.upper(), justify="right" if column != "window" else "left")
        for window in WINDOWS:
            values = measured(series, window)
            if not values:
                table.add_row(window, *[NOT_AVAILABLE] * 4)
                continue
            table.add_row(
                window,
                f"{values[-1]:.2f}",
                f"{min(values):.2f}",
                f"{sum(values) / len(values):.2f}",
                f"{max(values):.2f}",
            )
        console = stdout_console()
        console.print(table)
        reason = getattr(series, "reason", None)
        if reason:
            console.print(f"{NOT_AVAILABLE}: {reason}", markup=False)
            return
        console.print(f"source: {series.source}", markup=False)
        if not all(measured(series, window) for window in WINDOWS):
            console.print(f"{NOT_AVAILABLE}: not running long enough to fill that window")

    emit(state, series, render)


@metrics_app.command("power")
def metrics_power(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """CPU package power (W): last 60 s, 60 min, 24 h, 365 days."""
    _series(ctx, json_, "power")


@metrics_app.command("speed")
def metrics_speed(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Average CPU core frequency (MHz)."""
    _series(ctx, json_, "speed")


@metrics_app.command("temperature")
def metrics_temperature(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """CPU package temperature (°C)."""
    _series(ctx, json_, "temperature")


@metrics_app.command("system")
def metrics_system(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """CPU topology and frequencies of the server."""
    state = state_of(ctx, json_)
    info = state.client(ctx).system.info()
    emit_object(state, info.info if not state.json else info, title="System info")


@metrics_app.command("threading")
def metrics_threading(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Which threads run on which CPUs."""
    state = state_of(ctx, json_)
    mapping = state.client(ctx).system.threading()
    emit_object(state, mapping.thread_map if not state.json else mapping, title="Threads")


_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> list[dict[str, Any]]:
    """The samples of a Prometheus text exposition: ``[{name, labels, value}, ...]``."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        if not match:
            continue
        labels = dict(_LABEL_RE.findall(match.group(3) or ""))
        try:
            value: float | str = float(match.group(4))
        except ValueError:
            value = match.group(4)
        samples.append({"name": match.group(1), "labels": labels, "value": value})
    return samples


@metrics_app.command("prometheus")
def metrics_prometheus(
    ctx: typer.Context,
    match: Annotated[
        str | None, typer.Option("--match", "-m", help="Only metrics whose name contains this.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """The server's Prometheus metrics (GET /metrics)."""
    state = state_of(ctx, json_)
    text = state.client(ctx).metrics()
    samples = [s for s in parse_prometheus(text) if not match or match in s["name"]]

    def render() -> None:
        if match is None:
            typer.echo(text.rstrip("\n"))
            return
        for sample in samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample["labels"].items())
            typer.echo(f"{sample['name']}{{{labels}}} {sample['value']}")

    emit(state, samples, render)
