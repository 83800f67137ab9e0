"""The Kafka client configuration and record size limits, built from the settings in one place.

Every confluent-kafka client the project creates (admin, producers, consumers)
starts from ``client_config`` and adds only what is its own (a group id, acks),
so a cluster that needs SASL works everywhere once the settings say so.

``record_limits`` derives every size limit from one setting,
``max_record_bytes``: the topics' ``max.message.bytes`` (aiops.topics), the
collector's ``max_message_bytes`` (collector_env), the worker's producer
request and consumer fetch sizes (aiops.stream.app) and librdkafka's
``message.max.bytes`` here, so no record one part may write is refused by another.

``check_connection`` is the first thing every Kafka client process of the
project does (worker, forwarder, tails): a broker that refuses the login or
the TLS handshake is an error that says so within seconds (``KafkaRefused``),
not a client retrying in silence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiops.settings import Settings, env_var

__all__ = [
    "BATCH_OVERHEAD_BYTES",
    "KafkaRefused",
    "RecordLimits",
    "check_connection",
    "client_config",
    "record_limits",
]


BATCH_OVERHEAD_BYTES = 48_588
"""Room above a record's value for its key, headers and the record batch's framing.

A topic's ``max.message.bytes`` bounds the whole batch; with the default
``max_record_bytes`` (1,000,000) the topics' limit is 1,048,588 bytes,
Kafka's own default, so topics made by someone else still take every record.
"""


@dataclass(frozen=True)
class RecordLimits:
    """The size limits of the project's records, in bytes, all from ``max_record_bytes``."""

    record_bytes: int
    """The largest record value: the collector's batch limit and the worker's bound on what it writes."""

    @property
    def topic_bytes(self) -> int:
        """``max.message.bytes`` of every topic but the dead letters: a record and its framing."""
        return self.record_bytes + BATCH_OVERHEAD_BYTES

    @property
    def deadletter_bytes(self) -> int:
        """``max.message.bytes`` of the dead-letter topic: room for a whole record in base64 and its reason."""
        return 2 * self.topic_bytes

    @property
    def client_bytes(self) -> int:
        """Producer request and consumer per-partition fetch size: the largest record any topic takes."""
        return self.deadletter_bytes


def record_limits(settings: Settings) -> RecordLimits:
    """Every record size limit, derived from ``settings.max_record_bytes``.

    >>> limits = record_limits(Settings(max_record_bytes=1_000_000))
    >>> limits.record_bytes, limits.topic_bytes, limits.deadletter_bytes, limits.client_bytes
    (1000000, 1048588, 2097176, 2097176)
    """
    return RecordLimits(record_bytes=settings.max_record_bytes)


def client_config(settings: Settings) -> dict[str, str]:
    """librdkafka properties that reach and authenticate to the configured cluster.

    ``message.max.bytes`` lets a producer send the largest record any topic
    takes; consumers need nothing more, because the broker always returns a
    partition's first record batch even when it is larger than the fetch size.
    SASL properties appear only when the security protocol uses SASL; the
    password is revealed here and nowhere else, so keep the result out of logs.

    >>> client_config(
    ...     Settings(kafka_bootstrap_servers="kafka:9092", kafka_security_protocol="PLAINTEXT")
    ... )
    {'bootstrap.servers': 'kafka:9092', 'security.protocol': 'PLAINTEXT', 'message.max.bytes': '2097176'}
    >>> sasl = client_config(Settings(
    ...     kafka_bootstrap_servers="broker.example:9096",
    ...     kafka_security_protocol="SASL_SSL",
    ...     kafka_sasl_mechanism="SCRAM-SHA-512",
    ...     kafka_sasl_username="aiops",
    ...     kafka_sasl_password="s3cret",
    ... ))
    >>> sasl["sasl.mechanism"], sasl["sasl.username"], sasl["sasl.password"]
    ('SCRAM-SHA-512', 'aiops', 's3cret')
    >>> client_config(Settings(kafka_security_protocol="SSL", kafka_ssl_ca_location="/etc/ca.pem"))["ssl.ca.location"]
    '/etc/ca.pem'
    """
    config = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
        # librdkafka's producers refuse larger records locally; the topics' limits decide below it
        "message.max.bytes": str(record_limits(settings).client_bytes),
    }
    if settings.kafka_security_protocol.startswith("SASL_"):
        config |= {
            "sasl.mechanism": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_sasl_username,
            "sasl.password": settings.kafka_sasl_password.get_secret_value(),
        }
    if settings.kafka_security_protocol.endswith("SSL") and settings.kafka_ssl_ca_location:
        config["ssl.ca.location"] = settings.kafka_ssl_ca_location
    return config


class KafkaRefused(RuntimeError):
    """The broker refused this client's login or TLS handshake: retrying will not help, the settings must change."""


def check_connection(settings: Settings, timeout_s: float = 30.0) -> None:
    """Return once the configured cluster answers; raise ``KafkaRefused`` as soon as it refuses us.

    librdkafka retries a refused login or handshake for ever and reports it
    only through its error callback, so this asks for metadata once a second
    and reads that callback in between. A cluster that does not answer at all
    within ``timeout_s`` raises the client's ``KafkaException``.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    errors: list[KafkaError] = []
    admin = AdminClient({**client_config(settings), "log_level": 0, "error_cb": errors.append})
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=1.0)
            return
        except KafkaException as error:
            unanswered = error
        admin.poll(0)
        for error in errors:
            if error.code() == KafkaError._AUTHENTICATION:
                raise KafkaRefused(
                    f"Kafka at {settings.kafka_bootstrap_servers} refused user "
                    f"{settings.kafka_sasl_username!r} ({settings.kafka_sasl_mechanism}); check "
                    f"{env_var('kafka_sasl_username')} and {env_var('kafka_sasl_password')}: {error.str()}"
                )
            if error.code() == KafkaError._SSL:
                raise KafkaRefused(
                    f"TLS with Kafka at {settings.kafka_bootstrap_servers} failed; check "
                    f"{env_var('kafka_ssl_ca_location')}: {error.str()}"
                )
        if time.monotonic() >= deadline:
            raise unanswered
