"""The Kafka client configuration and record size limits, built from the settings in one place.

Every confluent-kafka client the project creates (admin, producers, consumers)
starts from ``client_config`` and adds only what is its own (a group id, acks),
so a cluster that needs SASL works everywhere once the settings say so.

``record_limits`` derives every size limit from one setting,
``kafka_max_message_bytes``: the topics' ``max.message.bytes`` (aiops.topics),
the collector's ``max_message_bytes`` (collector_env), the worker's producer
request and consumer fetch sizes (aiops.stream.app) and librdkafka's
``message.max.bytes`` here, so no record one part may write is refused by another.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.settings import Settings

__all__ = ["RecordLimits", "client_config", "record_limits"]


@dataclass(frozen=True)
class RecordLimits:
    """The size limits of the project's records, in bytes, all from ``kafka_max_message_bytes``."""

    message_bytes: int
    """``max.message.bytes`` of every topic but the dead letters, and the collector's batch limit."""
    deadletter_bytes: int
    """``max.message.bytes`` of the dead-letter topic: the largest payload in base64, plus its reason."""

    @property
    def client_bytes(self) -> int:
        """Producer request and consumer per-partition fetch size: the largest record any topic takes."""
        return max(self.message_bytes, self.deadletter_bytes)


def record_limits(settings: Settings) -> RecordLimits:
    """Every record size limit, derived from ``settings.kafka_max_message_bytes``.

    >>> limits = record_limits(Settings(kafka_max_message_bytes=4 * 1024 * 1024))
    >>> limits.message_bytes, limits.deadletter_bytes, limits.client_bytes
    (4194304, 8388608, 8388608)
    """
    return RecordLimits(
        message_bytes=settings.kafka_max_message_bytes,
        deadletter_bytes=2 * settings.kafka_max_message_bytes,
    )


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
    {'bootstrap.servers': 'kafka:9092', 'security.protocol': 'PLAINTEXT', 'message.max.bytes': '8388608'}
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
