"""The anomaly gauges of the watched tracks: set from what the engine scored, removed when a track calms down.

``aiops_anomaly_score`` / ``_actual`` / ``_expected`` exist only for the
tracks :class:`~aiops.anomaly.exposition.Exposition` watches (service level
or elevated, within ``detect_max_gauge_tracks``), so a scrape stays small
however many series a worker scores; ``aiops_detect_gauges_capped_total``
counts what the cap left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiops.anomaly.engine import Closed
from aiops.anomaly.exposition import Exposition
from aiops.stream.metrics import StreamMetrics

__all__ = ["AnomalyGauges"]


class AnomalyGauges:
    """Gauges for the watched tracks of one worker."""

    def __init__(self, metrics: StreamMetrics, cap: int) -> None:
        self.metrics = metrics
        self.exposition = Exposition(cap)
        self.labels: dict[str, tuple[str, str, str, str]] = {}

    def expose(self, closed: Closed, watched: Callable[[str], bool]) -> None:
        """Set the gauges of the watched tracks among ``closed``'s scores (their latest); remove the calmed ones."""
        scored = closed.scored
        latest = {name: i for i, name in enumerate(scored.names)}
        shown, removed, capped = self.exposition.update((name, watched(name)) for name in latest)
        metrics = self.metrics
        for name in shown:
            i = latest[name]
            track = scored.tracks[i]
            labels = self.labels.setdefault(
                name,
                (
                    track.series,
                    track.metric,
                    str(track.resource.get("service.name", "")),
                    track.signal,
                ),
            )
            metrics.anomaly_score.labels(*labels).set(scored.score[i])
            metrics.anomaly_actual.labels(*labels).set(scored.value[i])
            metrics.anomaly_expected.labels(*labels).set(scored.expected[i])
        self._remove(removed)
        if capped:
            metrics.detect_gauges_capped.inc(capped)

    def forget(self, names: Iterable[str]) -> None:
        """Remove the gauges of tracks that expired."""
        self._remove(self.exposition.forget(names))

    def _remove(self, names: Iterable[str]) -> None:
        for name in names:
            labels = self.labels.pop(name, None)
            if labels is not None:
                for gauge in (
                    self.metrics.anomaly_score,
                    self.metrics.anomaly_actual,
                    self.metrics.anomaly_expected,
                ):
                    gauge.remove(*labels)
