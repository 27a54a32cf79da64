"""Datasets: reading uploads (IDX, CSV), the on-disk dataset file, and grading results.

Everything here depends only on NumPy and the standard library, so the engine, the
service and offline tools can share it.
"""

from hanami.datasets.checking import (
    CheckReport,
    check,
    check_columns,
    classification_accuracy,
    predict_classes,
)
from hanami.datasets.convert import convert_csv, convert_mnist
from hanami.datasets.csv import CsvReader, CsvTable, read_csv
from hanami.datasets.errors import ColumnNotFoundError, DatasetError, InputTooLarge, ParseStopped
from hanami.datasets.fileformat import FORMAT_VERSION
from hanami.datasets.filereader import Dataset, DatasetHeader, open_dataset, read_dataset_header
from hanami.datasets.filewriter import DatasetWriter, write_dataset
from hanami.datasets.idx import IdxReader, mnist_to_columns, read_idx
from hanami.datasets.limits import ParseLimits

__all__ = [
    "FORMAT_VERSION",
    "CheckReport",
    "ColumnNotFoundError",
    "CsvReader",
    "CsvTable",
    "Dataset",
    "DatasetError",
    "DatasetHeader",
    "DatasetWriter",
    "IdxReader",
    "InputTooLarge",
    "ParseLimits",
    "ParseStopped",
    "check",
    "check_columns",
    "classification_accuracy",
    "convert_csv",
    "convert_mnist",
    "mnist_to_columns",
    "open_dataset",
    "predict_classes",
    "read_csv",
    "read_dataset_header",
    "read_idx",
    "write_dataset",
]
