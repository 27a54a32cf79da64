from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClusterProcessType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUEST_TYPE: _ClassVar[ClusterProcessType]
    TRAIN_TYPE: _ClassVar[ClusterProcessType]

class TargetBufferType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INPUT_BUFFER_TYPE: _ClassVar[TargetBufferType]
    OUTPUT_BUFFER_TYPE: _ClassVar[TargetBufferType]
    EXPECTED_BUFFER_TYPE: _ClassVar[TargetBufferType]
REQUEST_TYPE: ClusterProcessType
TRAIN_TYPE: ClusterProcessType
INPUT_BUFFER_TYPE: TargetBufferType
OUTPUT_BUFFER_TYPE: TargetBufferType
EXPECTED_BUFFER_TYPE: TargetBufferType

class ClusterIO_Message(_message.Message):
    __slots__ = ("bufferName", "isLast", "processType", "targetBufferType", "numberOfValues", "values")
    BUFFERNAME_FIELD_NUMBER: _ClassVar[int]
    ISLAST_FIELD_NUMBER: _ClassVar[int]
    PROCESSTYPE_FIELD_NUMBER: _ClassVar[int]
    TARGETBUFFERTYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBEROFVALUES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    bufferName: str
    isLast: bool
    processType: ClusterProcessType
    targetBufferType: TargetBufferType
    numberOfValues: int
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, bufferName: _Optional[str] = ..., isLast: _Optional[bool] = ..., processType: _Optional[_Union[ClusterProcessType, str]] = ..., targetBufferType: _Optional[_Union[TargetBufferType, str]] = ..., numberOfValues: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class FileUpload_Message(_message.Message):
    __slots__ = ("position", "data")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    position: int
    data: bytes
    def __init__(self, position: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class FileUploadResponse_Message(_message.Message):
    __slots__ = ("success", "errorMessage")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERRORMESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    errorMessage: str
    def __init__(self, success: _Optional[bool] = ..., errorMessage: _Optional[str] = ...) -> None: ...
