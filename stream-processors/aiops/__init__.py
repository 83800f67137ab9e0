"""aiops: streaming SLOs and anomaly detection for OpenTelemetry metrics on Kafka.

Subpackages: ``core`` (pure: OTLP flattening, math, detectors; no Kafka, no Faust),
``stream`` (the Faust app and its agents), ``stack`` (the local stack as plain
processes), ``cli`` (the ``aiops`` command).
"""

__all__: list[str] = []
