"""Pins the public surface of hanami.datasets, so a change to it is a deliberate one."""

import hanami.datasets


def test_exported_members():
    exported = set(hanami.datasets.__all__)
    public = {name for name in vars(hanami.datasets) if not name.startswith("_")}
    assert exported == {
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
    }
    modules = {
        "checking",
        "convert",
        "csv",
        "errors",
        "fileformat",
        "filereader",
        "filewriter",
        "idx",
        "limits",
    }
    assert public - modules == exported
    assert issubclass(hanami.datasets.DatasetError, ValueError)
