"""Observability of the host and the service, one job per module.

``sensors`` (sysfs/psutil readers: topology, load, frequency, temperature), ``power``
(RAPL), ``sampler`` (one sample of all of them), ``series`` (ring buffers), ``monitor``
(the sampling thread), ``energy`` (the optional energy policy), ``reports`` (the JSON of the
host endpoints) and ``prometheus`` (``/metrics``).
"""
