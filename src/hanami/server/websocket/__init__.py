"""The websocket endpoint (``endpoint``) admitting a session (``admission``, ``session``) to
the file upload (``file_upload``) or direct cluster I/O (``direct_io``: the compatible
ping-pong and the batched extension)."""
