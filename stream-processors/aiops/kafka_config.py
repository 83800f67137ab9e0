"""The confluent-kafka client configuration, built from the settings in one place.

Every confluent-kafka client the project creates (admin, producers, consumers)
starts from ``client_config`` and adds only what is its own (a group id, acks),
so a cluster that needs SASL works everywhere once the settings say so.
"""

from __future__ import annotations

from aiops.settings import Settings

__all__ = ["client_config"]


def client_config(settings: Settings) -> dict[str, str]:
    """librdkafka properties that reach and authenticate to the configured cluster.

    SASL properties appear only when the security protocol uses SASL; the
    password is revealed here and nowhere else, so keep the result out of logs.

    >>> client_config(
    ...     Settings(kafka_bootstrap_servers="kafka:9092", kafka_security_protocol="PLAINTEXT")
    ... )
    {'bootstrap.servers': 'kafka:9092', 'security.protocol': 'PLAINTEXT'}
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
