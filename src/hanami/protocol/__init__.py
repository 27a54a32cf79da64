"""What the server and its clients say to each other, defined once for both ends.

``proto`` holds the protobuf messages of the websockets, ``batch`` the batch frame of direct
cluster I/O, ``models`` the JSON answers of the REST API. The package imports neither
``hanami.server`` nor ``hanami.sdk`` (tests/test_layering.py checks), so the SDK needs no
server code and the server no client code. Submodules are imported on their own: this
file loads nothing, so a client that only speaks JSON never loads protobuf.
"""
