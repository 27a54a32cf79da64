"""The websocket protobuf messages: field numbers and types pinned to spec section 3.2."""

from __future__ import annotations

import struct
from importlib import resources
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message import Message

from hanami.protocol import proto
from hanami.protocol.proto import (
    EXPECTED_BUFFER_TYPE,
    INPUT_BUFFER_TYPE,
    OUTPUT_BUFFER_TYPE,
    REQUEST_TYPE,
    TRAIN_TYPE,
    ClusterIO_Message,
    ClusterProcessType,
    FileUpload_Message,
    FileUploadResponse_Message,
    TargetBufferType,
)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


VARINT, FIXED32, LEN = 0, 5, 2

# The table of spec section 3.2: (message, number, name, type).
SPEC_FIELDS = [
    (ClusterIO_Message, 1, "bufferName", FD.TYPE_STRING),
    (ClusterIO_Message, 2, "isLast", FD.TYPE_BOOL),
    (ClusterIO_Message, 3, "processType", FD.TYPE_ENUM),
    (ClusterIO_Message, 4, "targetBufferType", FD.TYPE_ENUM),
    (ClusterIO_Message, 5, "numberOfValues", FD.TYPE_UINT64),
    (ClusterIO_Message, 6, "values", FD.TYPE_FLOAT),
    (FileUpload_Message, 1, "position", FD.TYPE_UINT64),
    (FileUpload_Message, 2, "data", FD.TYPE_BYTES),
    (FileUploadResponse_Message, 1, "success", FD.TYPE_BOOL),
    (FileUploadResponse_Message, 2, "errorMessage", FD.TYPE_STRING),
]


@pytest.mark.parametrize(("message", "number", "name", "type_"), SPEC_FIELDS)
def test_field_matches_spec(message: type[Message], number: int, name: str, type_: int) -> None:
    field = message.DESCRIPTOR.fields_by_number[number]
    assert (field.name, field.type) == (name, type_)
    assert field.is_repeated == (name == "values")


@pytest.mark.parametrize(
    "message", [ClusterIO_Message, FileUpload_Message, FileUploadResponse_Message]
)
def test_no_fields_beyond_spec(message: type[Message]) -> None:
    spec = {number for m, number, _, _ in SPEC_FIELDS if m is message}
    assert set(message.DESCRIPTOR.fields_by_number) == spec


def test_enums_match_spec() -> None:
    assert dict(ClusterProcessType.items()) == {"REQUEST_TYPE": 0, "TRAIN_TYPE": 1}
    assert dict(TargetBufferType.items()) == {
        "INPUT_BUFFER_TYPE": 0,
        "OUTPUT_BUFFER_TYPE": 1,
        "EXPECTED_BUFFER_TYPE": 2,
    }
    assert (REQUEST_TYPE, TRAIN_TYPE) == (0, 1)
    assert (INPUT_BUFFER_TYPE, OUTPUT_BUFFER_TYPE, EXPECTED_BUFFER_TYPE) == (0, 1, 2)
    fields = ClusterIO_Message.DESCRIPTOR.fields_by_name
    assert fields["processType"].enum_type is ClusterProcessType.DESCRIPTOR
    assert fields["targetBufferType"].enum_type is TargetBufferType.DESCRIPTOR


def test_file_is_proto3_without_package() -> None:
    file = ClusterIO_Message.DESCRIPTOR.file
    assert (file.name, file.package) == ("hanami_messages.proto", "")
    assert ClusterIO_Message.DESCRIPTOR.full_name == "ClusterIO_Message"
    assert TargetBufferType.DESCRIPTOR.full_name == "TargetBufferType"


def test_cluster_io_wire_encoding() -> None:
    message = ClusterIO_Message(
        bufferName="in",
        isLast=True,
        processType=TRAIN_TYPE,
        targetBufferType=EXPECTED_BUFFER_TYPE,
        numberOfValues=2,
        values=[1.0, -2.5],
    )
    floats = struct.pack("<2f", 1.0, -2.5)
    expected = (
        key(1, LEN)
        + varint(2)
        + b"in"
        + key(2, VARINT)
        + varint(1)
        + key(3, VARINT)
        + varint(1)
        + key(4, VARINT)
        + varint(2)
        + key(5, VARINT)
        + varint(2)
        + key(6, LEN)
        + varint(len(floats))
        + floats  # packed: one key for all values
    )
    assert expected.hex() == "0a02696e100118012002280232080000803f000020c0"
    assert message.SerializeToString() == expected


def test_file_upload_wire_encoding() -> None:
    message = FileUpload_Message(position=3 * 131072, data=b"\x00\xffab")
    expected = key(1, VARINT) + varint(393216) + key(2, LEN) + varint(4) + b"\x00\xffab"
    assert expected.hex() == "0880801812" + "0400ff6162"
    assert message.SerializeToString() == expected


def test_file_upload_response_wire_encoding() -> None:
    text = b"Failed to write data to disc"
    message = FileUploadResponse_Message(success=False, errorMessage=text.decode())
    assert message.SerializeToString() == key(2, LEN) + varint(len(text)) + text
    assert FileUploadResponse_Message(success=True).SerializeToString() == b"\x08\x01"


def test_train_ack_is_byte_stable() -> None:
    """The server's ack to every non-last train buffer (spec 3.4)."""
    ack = ClusterIO_Message(processType=TRAIN_TYPE, numberOfValues=1, values=[0.0])
    assert ack.SerializeToString() == bytes.fromhex("18012801320400000000")


@pytest.mark.parametrize(
    "message",
    [
        ClusterIO_Message(
            bufferName="output",
            isLast=False,
            processType=REQUEST_TYPE,
            targetBufferType=INPUT_BUFFER_TYPE,
            numberOfValues=3,
            values=[0.5, 0.25, 1e-3],
        ),
        ClusterIO_Message(),
        FileUpload_Message(position=2**40, data=bytes(range(256)) * 512),
        FileUpload_Message(),
        FileUploadResponse_Message(success=True),
        FileUploadResponse_Message(errorMessage="Got invalid FileUpload-Message"),
    ],
)
def test_round_trip(message: Message) -> None:
    decoded = type(message).FromString(message.SerializeToString())
    assert decoded == message


def test_defaults_encode_to_nothing() -> None:
    for message in (ClusterIO_Message(), FileUpload_Message(), FileUploadResponse_Message()):
        assert message.SerializeToString() == b""


def test_unpacked_values_are_accepted() -> None:
    """Parsers must accept repeated floats sent one key per value, too."""
    data = b"".join(key(6, FIXED32) + struct.pack("<f", v) for v in (1.5, 2.0))
    assert list(ClusterIO_Message.FromString(data).values) == [1.5, 2.0]


def test_unknown_fields_are_ignored() -> None:
    """An added field (e.g. an error text as field 7, spec 3.4) must not break old readers."""
    data = ClusterIO_Message(isLast=True).SerializeToString() + key(7, LEN) + varint(3) + b"bad"
    assert ClusterIO_Message.FromString(data).isLast is True


def test_package_exports() -> None:
    assert sorted(proto.__all__) == sorted(
        name for name in vars(proto) if not name.startswith("_") and name != "hanami_messages_pb2"
    )


def test_shipped_schema_matches_generated_code(tmp_path: Path) -> None:
    """The committed _pb2 module must be generated from the committed .proto."""
    protoc = pytest.importorskip("grpc_tools.protoc")
    schema = resources.files(proto) / "hanami_messages.proto"
    assert schema.is_file()
    out = tmp_path / "set.pb"
    with resources.as_file(schema) as path:
        args = ["protoc", f"-I{path.parent}", f"--descriptor_set_out={out}", path.name]
        assert protoc.main(args) == 0
    compiled = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    for message in compiled.message_type:  # descriptor sets carry json_name, gencode does not
        for field in message.field:
            field.ClearField("json_name")
    committed = descriptor_pb2.FileDescriptorProto.FromString(
        ClusterIO_Message.DESCRIPTOR.file.serialized_pb
    )
    assert compiled == committed
