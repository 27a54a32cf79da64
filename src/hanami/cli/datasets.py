"""``hanami dataset``: upload (MNIST, CSV), inspect, read, grade, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from hanami.cli._app import JsonOpt, QuietOpt, new_typer, show_command
from hanami.cli._commands import transfer
from hanami.cli._errors import CliError
from hanami.cli._output import emit, emit_created, emit_table, stdout_console
from hanami.cli._resource_commands import ResourceCommands
from hanami.cli._state import state_of

__all__ = ["dataset_app"]

dataset_app = new_typer("Datasets: upload MNIST or CSV files, read rows, grade results.")
upload_app = new_typer("Upload files as a new dataset (with a progress bar).")
dataset_app.add_typer(upload_app, name="upload")
dataset_app.add_typer(upload_app, name="create", hidden=True)  # hanamictl's spelling

DATASET_FIELDS = (
    "uuid",
    "name",
    "number_of_rows",
    "number_of_columns",
    "description",
    "owner_id",
    "project_id",
    "visibility",
    "version",
    "created_at",
)

DatasetUuid = Annotated[str, typer.Argument(help="Dataset uuid.", metavar="uuid")]
DATASET = ResourceCommands("datasets", DatasetUuid, "Dataset", fields=DATASET_FIELDS)
DatasetName = Annotated[str, typer.Argument(help="Name of the new dataset.")]
FirstColumnOpt = Annotated[
    str | None, typer.Option("--column", "-c", help="Column group (default: the first).")
]
ResultColumnOpt = Annotated[
    str | None, typer.Option("--result-column", help="Column group of the result.")
]
ReferenceColumnOpt = Annotated[
    str | None, typer.Option("--reference-column", help="Column group of the reference.")
]
CheckModeOpt = Annotated[
    str | None, typer.Option("--mode", help="auto, classification or regression.")
]
MultipartOpt = Annotated[
    bool,
    typer.Option(
        "--multipart",
        help="One multipart/form-data request instead of the websocket protocol (Hanami only).",
    ),
]


def _upload(
    ctx: typer.Context,
    json_: bool,
    quiet: bool,
    kind: str,
    name: str,
    files: list[Path],
    multipart: bool,
) -> None:
    state, dataset = transfer(
        ctx,
        json_,
        f"Uploading {name}",
        lambda c: c.datasets.upload_mnist if kind == "mnist" else c.datasets.upload_csv,
        name,
        *files,
        transport="multipart" if multipart else "websocket",
    )
    emit_created(state, quiet, dataset, title="Dataset", fields=DATASET_FIELDS)


@upload_app.command("mnist")
def upload_mnist(
    ctx: typer.Context,
    name: DatasetName,
    images: Annotated[
        Path,
        typer.Option("--images", "-i", help="IDX image file.", exists=True, dir_okay=False),
    ],
    labels: Annotated[
        Path,
        typer.Option("--labels", "-l", help="IDX label file.", exists=True, dir_okay=False),
    ],
    multipart: MultipartOpt = False,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Upload an MNIST image file and its label file (columns 'picture' and 'label')."""
    _upload(ctx, json_, quiet, "mnist", name, [images, labels], multipart)


@upload_app.command("csv")
def upload_csv(
    ctx: typer.Context,
    name: DatasetName,
    file: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="CSV file with a header line.", exists=True, dir_okay=False
        ),
    ],
    multipart: MultipartOpt = False,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Upload a CSV file (one column group per header name)."""
    _upload(ctx, json_, quiet, "csv", name, [file], multipart)


@dataset_app.command("list")
def dataset_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List datasets (request results included)."""
    state = state_of(ctx, json_)
    columns = ("uuid", "name", "owner_id", "project_id", "created_at")
    emit_table(state, state.client(ctx).datasets.list(), columns=columns)


show_command(dataset_app, DATASET.show("Show a dataset and its column groups."))


@dataset_app.command("content")
def dataset_content(
    ctx: typer.Context,
    uuid: DatasetUuid,
    column: Annotated[str, typer.Option("--column", "-c", help="Column group name.")],
    offset: Annotated[int, typer.Option("--offset", "-o", help="First row.", min=0)] = 0,
    rows: Annotated[
        int, typer.Option("--rows", "-n", help="Number of rows (1-10000).", min=1, max=10000)
    ] = 1,
    json_: JsonOpt = False,
) -> None:
    """Print rows of one column group (with --json: only the array of rows)."""
    state = state_of(ctx, json_)
    data = state.client(ctx).datasets.content(uuid, column, row_offset=offset, number_of_rows=rows)

    def render() -> None:
        console = stdout_console()
        for index, row in enumerate(data, start=offset):
            values = " ".join(f"{v:g}" for v in row)
            console.print(f"{index}: {values}", soft_wrap=True)

    emit(state, data.tolist(), render)


@dataset_app.command("download")
def dataset_download(
    ctx: typer.Context,
    uuid: DatasetUuid,
    output: Annotated[Path, typer.Option("--output", "-o", help="Target .npy or .csv file.")],
    column: FirstColumnOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Save all rows of one column group as .npy or .csv."""
    if output.suffix.lower() not in (".npy", ".csv"):
        raise CliError(f"{output}: the output file must end in .npy or .csv")
    state, data = transfer(
        ctx, json_, f"Downloading {uuid}", lambda c: c.datasets.download, uuid, column,
        kind="samples",
    )  # fmt: skip
    if output.suffix.lower() == ".npy":
        np.save(output, data)
    else:
        np.savetxt(output, data, delimiter=",", fmt="%.9g")
    shape = list(data.shape)
    emit(
        state,
        {"uuid": uuid, "output": str(output), "shape": shape},
        f"Saved {shape[0]} rows x {shape[1] if len(shape) > 1 else 0} columns to {output}",
    )


@dataset_app.command("check")
def dataset_check(
    ctx: typer.Context,
    uuid: Annotated[str, typer.Argument(help="Result dataset uuid (a request task's uuid).")],
    reference: Annotated[
        str, typer.Option("--reference", "-r", help="Labelled reference dataset uuid.")
    ],
    result_column: ResultColumnOpt = None,
    reference_column: ReferenceColumnOpt = None,
    mode: CheckModeOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Grade a request result against a labelled dataset (accuracy in %)."""
    state = state_of(ctx, json_)
    result = state.client(ctx).datasets.check(
        uuid,
        reference,
        result_column=result_column,
        reference_column=reference_column,
        mode=mode,
    )
    parts = []
    if result.accuracy is not None:
        parts.append(f"accuracy: {result.accuracy:.2f} %")
    if result.mse is not None:
        parts.append(f"mse: {result.mse:.6g}")
    if result.mae is not None:
        parts.append(f"mae: {result.mae:.6g}")
    if result.rows is not None:
        parts.append(f"rows: {result.rows}")
    emit(state, result, ", ".join(parts) or "no result")


dataset_app.command("delete")(DATASET.delete())
