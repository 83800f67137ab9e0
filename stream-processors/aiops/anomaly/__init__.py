"""Anomaly detection (pure: no Kafka, no Faust).

- ``engine.py``: the detect engine the stream runs: tracks per series and
  service level, export groups, attribution, checkpoints, cap and expiry;
- ``alert_policy.py``: when scores become alerts (threshold, hysteresis,
  minimum duration, quiet period) and what the alert says;
- ``detectors/``: the online detectors and their registry;
- ``evaluation/``: NAB's scoring rules and the labelled corpora.
"""

__all__: list[str] = []
