"""The worker's Kafka transport: Faust's aiokafka driver, but a record batch it cannot read is skipped, not retried forever.

aiokafka raises on a batch it cannot read (a bad CRC, a codec it cannot
decompress, a corrupt record) and fetches the same batch again on the next
poll, so one such batch stops its partition for good and Faust's fetcher
dies on it. ``fetch_transport`` installs, in each consumer's fetcher, a
record iterator that reads one batch at a time: a batch that raises is
reported (``on_unreadable(tp, first_offset, end_offset, error, payload)``,
from the consumer's thread, with the batch's bytes as the broker sent them)
and skipped, and the partition goes on with the next one; Faust treats the
skipped offsets as a gap it may commit past.

Only the read-uncommitted isolation level (what Faust's at-least-once
processing uses) is guarded; transactional reads keep aiokafka's iterator.
The consumer also answers ``assigned_highwaters()``, every assigned
partition with its highwater from one reading of the client's assignment,
for the liveness check (``aiops.stream.liveness``), which runs beside the
consumer's thread. The hooks reach into aiokafka (``Fetcher._records``,
``PartitionRecords``, the fetcher module's ``MemoryRecords``, wrapped so that
a fetch keeps its bytes, and the subscription's ``Assignment``), so the
versions are pinned in ``pyproject.toml``.
"""

from __future__ import annotations

import collections
import struct
from collections.abc import Callable, Iterator
from typing import Any

import faust
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.consumer.fetcher import READ_UNCOMMITTED, FetchResult, PartitionRecords
from aiokafka.errors import CorruptRecordException
from faust.transport.drivers import aiokafka as driver
from faust.types import TP

__all__ = ["OnUnreadable", "fetch_transport", "readable_records"]

OnUnreadable = Callable[[TP, int, int, BaseException, bytes], None]
"""Called with a partition, the first offset of a batch that was skipped, the offset after it, why, and its bytes."""

_LOG_OVERHEAD = 12
"""A record batch's base offset (8 bytes) and length (4 bytes), which its length does not count."""


class _KeptBytes:
    """aiokafka's ``MemoryRecords`` of one fetch, and the fetch's bytes, so a batch it cannot read can be set aside whole."""

    def __init__(self, data: bytes) -> None:
        self._records = _MemoryRecords(data)
        self.data = data
        self.position = 0
        """Where the batch that ``next_batch`` returns next starts in ``data``."""

    def has_next(self) -> bool:
        return self._records.has_next()

    def next_batch(self) -> Any:
        return self._records.next_batch()

    def size_in_bytes(self) -> int:
        return self._records.size_in_bytes()

    def batch_bytes(self) -> bytes:
        """The bytes of the batch at ``position`` (length prefix included), and move past it."""
        start = self.position
        (length,) = struct.unpack_from(">i", self.data, start + 8)
        self.position = start + _LOG_OVERHEAD + length
        return bytes(self.data[start : self.position])


_MemoryRecords = aiokafka_fetcher.MemoryRecords


def readable_records(partition_records: PartitionRecords, on_unreadable: OnUnreadable) -> Iterator:
    """aiokafka's records of one fetch (read uncommitted), with a batch that cannot be read skipped and reported.

    Like ``PartitionRecords._unpack_records``: control batches are skipped,
    records before the fetch offset too, and ``next_fetch_offset`` follows
    each record and batch. A batch is read whole before its first record is
    given out, so a batch that fails halfway gives out none of its records.
    """
    tp = partition_records._tp
    batches = partition_records._records
    kept = isinstance(batches, _KeptBytes)
    while batches.has_next():
        payload = batches.batch_bytes() if kept else b""
        batch = batches.next_batch()
        start = partition_records.next_fetch_offset
        try:
            if partition_records._check_crcs and not batch.validate_crc():
                raise CorruptRecordException(f"Invalid CRC - {tp}")
            if batch.is_control_batch:
                partition_records.next_fetch_offset = batch.next_offset
                continue
            records = [
                partition_records._consumer_record(tp, record)
                for record in batch
                if record.offset >= start
            ]
        except Exception as error:  # noqa: BLE001 - whatever breaks a batch must not stop its partition
            end = max(batch.next_offset, start + 1)  # a corrupt header must not send us backwards
            on_unreadable(tp, max(batch.base_offset, start), end, error, payload)
            partition_records.next_fetch_offset = end
            continue
        for record in records:
            partition_records.next_fetch_offset = record.offset + 1
            yield record
        partition_records.next_fetch_offset = batch.next_offset


class _GuardedRecords(collections.OrderedDict):
    """The fetcher's prefetched results per partition, each given ``readable_records`` as it is stored."""

    def __init__(self, on_unreadable: OnUnreadable) -> None:
        super().__init__()
        self._on_unreadable = on_unreadable

    def __setitem__(self, tp: Any, result: Any) -> None:
        if type(result) is FetchResult:
            records = result._partition_records
            if records is not None and records._isolation_level == READ_UNCOMMITTED:
                records._records_iterator = readable_records(records, self._on_unreadable)
        super().__setitem__(tp, result)


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    async def on_start(self) -> None:
        await super().on_start()
        fetcher = self._consumer._fetcher
        guarded = _GuardedRecords(self.transport.on_unreadable)
        guarded.update(fetcher._records)
        fetcher._records = guarded

    def assigned_highwaters(self) -> dict[TP, int | None]:
        """Each assigned partition's last fetched highwater (None before its first fetch), any thread.

        aiokafka replaces its ``Assignment`` on a rebalance and never changes
        one, so the partitions and their highwaters come from the same one
        even while this thread revokes partitions; ``highwater(tp)`` after
        ``assignment()`` asserts on a partition revoked between the two.
        """
        subscription = self._ensure_consumer()._subscription.subscription
        assignment = None if subscription is None else subscription.assignment
        if assignment is None:
            return {}
        mark = "lso" if self.consumer.in_transaction else "highwater"  # as Faust's highwater()
        return {
            TP(tp.topic, tp.partition): getattr(assignment.state_value(tp), mark)
            for tp in assignment.tps
        }


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def assigned_highwaters(self) -> dict[TP, int | None]:
        """Each assigned partition's highwater, read in one step (``_ConsumerThread.assigned_highwaters``)."""
        return self._thread.assigned_highwaters()


class _Transport(driver.Transport):
    Consumer = _Consumer

    def __init__(self, *args: Any, on_unreadable: OnUnreadable, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_unreadable = on_unreadable


def fetch_transport(app: faust.App, on_unreadable: OnUnreadable) -> faust.types.TransportT:
    """The consumer transport for ``app`` (set it as ``app.transport``) that skips unreadable batches.

    Every aiokafka fetch of the process keeps its bytes from then on
    (``_KeptBytes``), for the batches it cannot read.
    """
    aiokafka_fetcher.MemoryRecords = _KeptBytes
    return _Transport(app.conf.broker_consumer, app, on_unreadable=on_unreadable)
