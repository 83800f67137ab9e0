"""A Faust table that a timer may write: each key's changelog partition is remembered, not read from an event."""

from __future__ import annotations

from typing import Any

import faust

__all__ = ["KeyPartitionTable"]


class KeyPartitionTable(faust.Table):
    """A table whose changelog partition is the one its key's events arrive on, known without an event.

    Faust takes a key's changelog partition from the event being processed;
    timers write (alert episodes, closed groups, expiry) outside of any event,
    so each key's partition is remembered from the events that created it.
    Set ``partition_of[key]`` before writing or deleting ``key``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partition_of: dict[str, int] = {}

    def partition_for_key(self, key: Any) -> int | None:
        """The partition of the key's events (set by the agent before each write)."""
        return self.partition_of[key]
