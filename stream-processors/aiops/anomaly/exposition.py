"""Which tracks get their own Prometheus gauges: the ones a person looks at, within a cap.

A worker scores every track, but a scrape of one gauge per track grows with
every series (three gauges per track, 30k series at 10k tracks). So a track
is *watched*, and keeps ``aiops_anomaly_score``/``_actual``/``_expected``,
only while it is at the service level (no point attributes: the summed rate
or mean of a metric of one service instance, or a gauge without attributes)
or elevated (above its alert threshold, or firing). Everything is on
``aiops.scores`` either way. At most ``cap`` tracks are watched at once,
first come first served (a watched track keeps its place until it calms
down or expires); a track left out by the cap is counted, not exposed.

>>> exposed = Exposition(cap=2)
>>> exposed.update([("a", True), ("b", False), ("c", True), ("d", True)])
(['a', 'c'], [], 1)
>>> exposed.update([("a", False), ("d", True)])  # a calmed down: its gauges go; d takes its place
(['d'], ['a'], 0)
>>> sorted(exposed.watched)
['c', 'd']
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Exposition"]


class Exposition:
    """The set of watched tracks, updated from ``(track, watched)`` pairs of one scored group."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.watched: set[str] = set()

    def update(self, tracks: Iterable[tuple[str, bool]]) -> tuple[list[str], list[str], int]:
        """Tracks to set gauges for, tracks whose gauges to remove, and how many were left out by the cap.

        A track that appears several times counts by its last appearance.
        """
        latest = dict(tracks)
        removed = [name for name, watched in latest.items() if not watched and name in self.watched]
        self.watched.difference_update(removed)
        shown, capped = [], 0
        for name, watched in latest.items():
            if not watched:
                continue
            if name in self.watched or len(self.watched) < self.cap:
                self.watched.add(name)
                shown.append(name)
            else:
                capped += 1
        return shown, removed, capped

    def forget(self, names: Iterable[str]) -> list[str]:
        """Stop watching ``names`` (expired tracks); returns those that had gauges."""
        gone = [name for name in names if name in self.watched]
        self.watched.difference_update(gone)
        return gone
