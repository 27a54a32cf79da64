"""Protobuf messages spoken on the service's websockets (direct cluster I/O, file upload).

The schema is ``hanami_messages.proto`` beside this file; ``hanami_messages_pb2.py`` and
``hanami_messages_pb2.pyi`` are generated from it and committed. To regenerate after
changing the schema (grpcio-tools is a build-time tool only; its bundled protoc must not
be newer than the protobuf runtime, or the generated module refuses to import)::

    cd src/hanami/protocol/proto
    python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. hanami_messages.proto

The file is compiled from its own directory on purpose: the descriptor is then registered
as ``hanami_messages.proto`` with no package, like the original, so message full names
are ``ClusterIO_Message`` etc.
"""

from hanami.protocol.proto.hanami_messages_pb2 import (
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

__all__ = [
    "EXPECTED_BUFFER_TYPE",
    "INPUT_BUFFER_TYPE",
    "OUTPUT_BUFFER_TYPE",
    "REQUEST_TYPE",
    "TRAIN_TYPE",
    "ClusterIO_Message",
    "ClusterProcessType",
    "FileUploadResponse_Message",
    "FileUpload_Message",
    "TargetBufferType",
]
