"""The Alertmanager forwarder: alert events from Kafka to Alertmanager's API v2, none lost.

It consumes the alerts topic in its own consumer group and commits a record's
offset only once Alertmanager has accepted it, so when Alertmanager is down it
waits (with backoff) and, if stopped meanwhile, resumes from the last alert
delivered. Alertmanager times out a firing alert that is not posted again
(``resolve_timeout``), so firing episodes are posted again every
``forwarder_resend_interval_s``; on start they are rebuilt from the topic.
Records that are not alert events, or that Alertmanager rejects as invalid,
go to the dead-letter topic with the reason.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable

import httpx
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from pydantic import ValidationError

from aiops.kafka_config import check_connection, client_config
from aiops.schemas import AlertV1
from aiops.settings import Settings
from aiops.stream.deadletter import deadletter_record

__all__ = ["ActiveAlerts", "AlertmanagerRejected", "Forwarder"]

log = logging.getLogger(__name__)


class AlertmanagerRejected(RuntimeError):
    """Alertmanager answered 4xx: the alert itself is wrong, and retrying would not help."""


class ActiveAlerts:
    """The firing episodes, by id; a resolved event ends its episode.

    >>> from datetime import datetime, timezone
    >>> start = datetime(2026, 11, 27, tzinfo=timezone.utc)
    >>> active = ActiveAlerts()
    >>> firing = AlertV1.firing({"alertname": "A", "severity": "page"}, {}, start, "u")
    >>> active.observe(firing); len(active.firing())
    1
    >>> active.observe(firing.resolve(start)); len(active.firing())
    0
    """

    def __init__(self) -> None:
        self._firing: dict[str, AlertV1] = {}

    def observe(self, alert: AlertV1) -> None:
        """Track a firing event; forget the episode on its resolved event."""
        if alert.status == "firing":
            self._firing[alert.id] = alert
        else:
            self._firing.pop(alert.id, None)

    def firing(self) -> list[AlertV1]:
        """The episodes still firing."""
        return list(self._firing.values())


class Forwarder:
    """Delivers the alerts topic to Alertmanager; ``run`` until ``stop`` is set."""

    def __init__(self, settings: Settings, stop: threading.Event | None = None):
        self.settings = settings
        self.stop = stop or threading.Event()
        self.url = settings.alertmanager_base_url.rstrip("/") + "/api/v2/alerts"
        self.active = ActiveAlerts()
        self._http = httpx.Client(timeout=10.0)
        self._producer = Producer(client_config(settings))

    def run(self) -> None:
        """Rebuild the firing episodes, post them, then forward new events as they come.

        A cluster that refuses the login or TLS raises ``KafkaRefused`` first.
        """
        check_connection(self.settings)
        consumer = Consumer(
            {
                **client_config(self.settings),
                "group.id": self.settings.forwarder_group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "log_level": 0,
            }
        )
        try:
            consumer.subscribe([self.settings.topic_alerts])
            self._rebuild_active()
            self._deliver(self.active.firing())
            next_resend = time.monotonic() + self.settings.forwarder_resend_interval_s
            while not self.stop.is_set():
                message = consumer.poll(0.5)
                if message is not None and not message.error():
                    self._forward(message)
                    consumer.commit(message=message, asynchronous=False)
                elif message is not None:
                    log.warning("Kafka: %s", message.error())
                if time.monotonic() >= next_resend:
                    self._deliver(self.active.firing())
                    next_resend = time.monotonic() + self.settings.forwarder_resend_interval_s
        finally:
            consumer.close()
            self._producer.flush(10)

    def _forward(self, message: Message) -> None:
        try:
            alert = AlertV1.model_validate_json(message.value() or b"")
        except ValidationError as error:
            self._dead_letter(
                message, "not_an_alert", f"not an aiops.alerts/v1 event: {error.errors()[0]['msg']}"
            )
            return
        try:
            self._deliver([alert])
        except AlertmanagerRejected as error:
            self._dead_letter(message, "rejected_by_alertmanager", str(error))
            return
        self.active.observe(alert)

    def _deliver(self, alerts: Iterable[AlertV1]) -> None:
        """POST the alerts, retrying with backoff until Alertmanager accepts them or ``stop`` is set."""
        body = [alert.for_alertmanager() for alert in alerts]
        if not body:
            return
        backoff = 0.5
        while not self.stop.is_set():
            try:
                response = self._http.post(self.url, json=body)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.is_success:
                    log.info("posted %d alert(s) to %s", len(body), self.url)
                    return
                if 400 <= response.status_code < 500:
                    raise AlertmanagerRejected(
                        f"Alertmanager answered {response.status_code}: {response.text[:500]}"
                    )
                problem = f"HTTP {response.status_code}"
            log.warning(
                "Alertmanager at %s: %s; %d alert(s) wait, retrying in %.1fs",
                self.url,
                problem,
                len(body),
                backoff,
            )
            self.stop.wait(backoff)
            backoff = min(backoff * 2, self.settings.forwarder_max_backoff_s)

    def _rebuild_active(self) -> None:
        """Read the alerts topic from its start to its end to find the episodes still firing."""
        reader = Consumer(
            {
                **client_config(self.settings),
                "group.id": f"aiops-forwarder-rebuild-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "log_level": 0,
            }
        )
        try:
            metadata = reader.list_topics(self.settings.topic_alerts, timeout=30)
            partitions = metadata.topics[self.settings.topic_alerts].partitions
            ends = {}
            for partition in partitions:
                low, high = reader.get_watermark_offsets(
                    TopicPartition(self.settings.topic_alerts, partition), timeout=30
                )
                if high > low:
                    ends[partition] = high
            reader.assign([TopicPartition(self.settings.topic_alerts, p, 0) for p in ends])
            while ends and not self.stop.is_set():
                message = reader.poll(1.0)
                if message is None or message.error():
                    continue
                try:
                    self.active.observe(AlertV1.model_validate_json(message.value() or b""))
                except ValidationError:
                    pass
                if message.offset() + 1 >= ends.get(message.partition(), 0):
                    ends.pop(message.partition(), None)
        finally:
            reader.close()
        log.info("%d alert episode(s) still firing", len(self.active.firing()))

    def _dead_letter(self, message: Message, kind: str, reason: str) -> None:
        record = deadletter_record(
            message.value() or b"",
            reason=reason,
            kind=kind,
            stage="forward-alertmanager",
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            timestamp=message.timestamp()[1] / 1000,
            limit=self.settings.max_record_bytes,
        )
        self._producer.produce(self.settings.topic_deadletter, value=json.dumps(record).encode())
        self._producer.flush(10)
        log.warning(
            "dead-lettered %s:%s@%s: %s",
            message.topic(),
            message.partition(),
            message.offset(),
            reason,
        )
