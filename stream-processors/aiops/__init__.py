"""aiops: streaming SLOs and anomaly detection for OpenTelemetry metrics on Kafka.

The pure core (no Kafka, no Faust): ``decode`` (OTLP in, data points out),
``slo`` (the SLO spec and its maths: windows, burn rates, budgets, quantiles,
rules) and ``anomaly`` (the detect engine, the alert policy, the detectors
and their evaluation). The shells: ``stream`` (the Faust app and its agents),
``stack`` (the local stack as plain processes) and ``cli`` (the ``aiops``
command). Beside them: ``settings``, ``topics``, ``kafka_config``,
``schemas`` (one model per topic), ``dashboards``, ``deploy`` and
``forwarder``.
"""

__all__: list[str] = []
