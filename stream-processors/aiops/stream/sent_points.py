"""The points records this worker sent, already checked: its detect agent and SLI route need not parse them again.

The decode agent knows each record it sends as columns. Once Kafka has
acknowledged one, :class:`SentPoints` keeps the record as
:func:`~aiops.decode.points_check.check_points` would give it back (see
:func:`~aiops.decode.points_check.checked_as_sent`), under the partition and
offset it got. When the detect agent of the same worker reads that offset,
it takes the record from here instead of parsing and checking 25 kB of JSON
again (about a tenth of a worker's CPU at 100 points a record); the SLI
route, which reads every record too, skips the JSON as well. The value's
length and CRC-32 must match too, so a record another writer put there (a
topic made anew) is read from its bytes as any other. A record read by
another worker, one read before its acknowledgement arrived and one not read
within ``capacity`` later sends are read from their bytes: the cache saves
time, never changes what is scored. Only records on the points partitions
this worker reads are kept (:meth:`SentPoints.assign`, on every rebalance):
with several workers, the others' records would only wait to be dropped.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Iterable

from aiops.decode.points_check import CheckedPoints

__all__ = ["SentPoints"]


class SentPoints:
    """At most ``capacity`` checked records by (partition, offset) on the points topic, oldest dropped first.

    Each is kept until ``readers`` agents took it.

    >>> sent = SentPoints(capacity=1)
    >>> record = CheckedPoints({"schema": "aiops.points/v2"})
    >>> sent.add(3, 41, b"value", record)
    >>> sent.take(3, 41, b"value") is record, sent.take(3, 41, b"value")  # one reader: taken once
    (True, None)
    >>> sent.add(3, 42, b"value", record)
    >>> sent.take(3, 42, b"other bytes") is None  # not what this worker sent there
    True
    >>> sent.add(3, 43, b"a", record); sent.add(3, 44, b"b", record)
    >>> len(sent), sent.take(3, 43, b"a")  # the oldest dropped
    (1, None)
    >>> sent.assign([0, 1]); sent.add(3, 45, b"c", record)  # partition 3 is another worker's
    >>> len(sent)
    0
    >>> both = SentPoints(readers=2)
    >>> both.add(0, 7, b"v", record)
    >>> both.take(0, 7, b"v") is record, both.take(0, 7, b"v") is record, both.take(0, 7, b"v")
    (True, True, None)
    """

    def __init__(self, capacity: int = 4096, readers: int = 1) -> None:
        self.capacity = capacity
        self.readers = readers
        self.partitions: set[int] | None = None
        """The points partitions this worker reads; ``None``: all (before any assignment is known)."""
        self._records: OrderedDict[tuple[int, int], list] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def add(self, partition: int, offset: int, value: bytes, checked: CheckedPoints) -> None:
        """Keep the record Kafka acknowledged at ``partition``, ``offset`` with these value bytes."""
        if not self.wants(partition):
            return
        self._records[(partition, offset)] = [len(value), zlib.crc32(value), checked, self.readers]
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def wants(self, partition: int) -> bool:
        """Whether a record sent to ``partition`` would be kept (this worker reads it)."""
        return self.partitions is None or partition in self.partitions

    def assign(self, partitions: Iterable[int]) -> None:
        """The points partitions this worker now reads; what was kept for others is dropped."""
        self.partitions = set(partitions)
        for key in [key for key in self._records if key[0] not in self.partitions]:
            del self._records[key]

    def take(self, partition: int, offset: int, value: bytes) -> CheckedPoints | None:
        """The checked record at ``partition``, ``offset`` if this worker sent these very bytes there (once)."""
        entry = self._records.get((partition, offset))
        if entry is None:
            return None
        length, crc, checked, unread = entry
        if length != len(value) or crc != zlib.crc32(value):
            del self._records[(partition, offset)]
            return None
        entry[3] = unread - 1
        if unread == 1:
            del self._records[(partition, offset)]
        return checked
