from engine_helpers import mnist  # noqa: F401  (fixture)
