"""The file-upload protocol (spec 3.3): one chunk in, one answer out, written to the tempfile."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from hanami.protocol.proto import FileUpload_Message, FileUploadResponse_Message
from hanami.server.runtime.upload_handles import UploadError, UploadHandle
from hanami.server.websocket.session import CloseCode, WsClose, WsSession

__all__ = ["serve_upload"]


def _upload_reply(success: bool, error: str = "") -> bytes:
    return FileUploadResponse_Message(success=success, errorMessage=error).SerializeToString()


async def serve_upload(session: WsSession, handle: UploadHandle) -> None:
    """Spec 3.3: one ``FileUpload_Message`` in, one ``FileUploadResponse_Message`` out."""
    uploads = session.ctx.uploads
    while True:
        data = await session.receive(idle_timeout=uploads.timeout)
        message = FileUpload_Message()
        try:
            if isinstance(data, str):
                raise DecodeError("text frame")
            message.ParseFromString(data)
        except DecodeError:
            await session.send_bytes(_upload_reply(False, "Got invalid FileUpload-Message"))
            continue
        try:
            await session.run_sync(uploads.write, handle, message.position, message.data)
        except UploadError as exc:
            await session.send_bytes(_upload_reply(False, str(exc)))
            if handle.removed:
                raise WsClose(
                    CloseCode.NOT_FOUND, f"Tempfile with UUID '{handle.uuid}' no longer exists"
                ) from exc
            continue
        await session.send_bytes(_upload_reply(True))
