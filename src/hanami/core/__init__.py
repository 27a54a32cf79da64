"""The Hanami engine: templates, cluster state, Numba kernels and checkpoints.

Imports only NumPy and Numba, so it runs without the server.
"""

from hanami.core.checkpoint import CheckpointError
from hanami.core.cluster import Cluster
from hanami.core.interfaces import TrainStats
from hanami.core.profiles import PROFILES, Profile
from hanami.core.template import Input, Output, Settings, Template, TemplateError, parse_template

__all__ = [
    "PROFILES",
    "CheckpointError",
    "Cluster",
    "Input",
    "Output",
    "Profile",
    "Settings",
    "Template",
    "TemplateError",
    "TrainStats",
    "parse_template",
]
