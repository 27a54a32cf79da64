"""`hanami bench`: benchmarks (being written by the lead)."""

import typer

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
