"""The websocket endpoint (``endpoint``: init, file upload) and direct cluster I/O
(``direct_io``: the compatible ping-pong and the batched extension)."""
