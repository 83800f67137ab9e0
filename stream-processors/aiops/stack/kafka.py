"""Apache Kafka as a plain process: one KRaft node from Maven Central's jars on the JDK.

``ensure_kafka_jars`` resolves the broker's classpath once with Maven
(``storage/kafka/pom.xml``) and caches it; ``prepare_kafka`` renders
``storage/kafka/server.properties`` into the stack dir and formats the log dir
the first time; ``kafka_component`` describes the broker for ``ManagedProcess``;
``local_kafka`` does all of it around a with-block (the CLI and test fixtures).
A ``SaslSslListener`` adds a SASL_SSL listener (SCRAM-SHA-512 over TLS, a PEM
keystore) beside the plaintext one, and ``add_scram_user`` gives it a user, so
the clients' security settings can be proven against a real broker.

Data lives in ``<stack_dir>/kafka/data``, the broker's log in
``<stack_dir>/logs/kafka.log``, jars in ``<cache_dir>/m2``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from string import Template
from xml.etree import ElementTree

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from aiops.settings import Settings
from aiops.stack.process import Component, ManagedProcess, StartupError, port_is_free

__all__ = [
    "SaslSslListener",
    "add_scram_user",
    "broker_answers",
    "ensure_kafka_jars",
    "kafka_component",
    "kafka_version",
    "local_bootstrap",
    "local_kafka",
    "prepare_kafka",
    "server_properties",
]

Progress = Callable[[str], None]
"""Where progress lines go: ``print`` to stderr by default, the CLI's console otherwise."""

_NAME = "kafka"

HEAP_OPTS = ("-Xms512m", "-Xmx1g")
"""Kafka serves records from the OS page cache, not the heap: one node with a few
3-partition topics needs well under 1 GiB, and a small heap leaves most of the
24 GiB to the page cache, the collector, Prometheus and the Python workers.
The 512 MiB floor spares the heap resizing during startup."""

JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)
"""The GC options of Kafka's own start script (kafka-run-class.sh)."""

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _kafka_dir(settings: Settings) -> Path:
    return settings.repo_root / "storage" / "kafka"


def _stack_kafka_dir(settings: Settings) -> Path:
    return settings.stack_dir / "kafka"


def _data_dir(settings: Settings) -> Path:
    return _stack_kafka_dir(settings) / "data"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def kafka_version(settings: Settings) -> str:
    """The Kafka version pinned in ``storage/kafka/pom.xml``, the one place it is set.

    >>> kafka_version(Settings())
    '4.4.0'
    """
    pom = ElementTree.parse(_kafka_dir(settings) / "pom.xml")
    return pom.findtext("m:properties/m:kafka.version", namespaces=_POM_NS)


def ensure_kafka_jars(settings: Settings, progress: Progress = _to_stderr) -> str:
    """The broker's classpath, resolved by Maven into ``<cache_dir>/m2`` on first use.

    The classpath is cached in ``<cache_dir>/kafka-<version>-<pom hash>.classpath``;
    while that file and every jar it names exist, Maven is not run at all, so
    an edited pom resolves again and a deleted jar is fetched again.
    """
    pom = _kafka_dir(settings) / "pom.xml"
    version = kafka_version(settings)
    pom_hash = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    classpath_file = settings.cache_dir / f"kafka-{version}-{pom_hash}.classpath"
    if (classpath := _cached_classpath(classpath_file)) is not None:
        return classpath

    mvn = shutil.which("mvn")
    if mvn is None:
        raise StartupError(
            "Maven (mvn) is needed once to fetch Kafka's jars; apt-get install maven"
        )
    repo = settings.cache_dir / "m2"
    progress(f"kafka: resolving Apache Kafka {version} jars from Maven Central into {repo} (once)")
    started = time.monotonic()
    partial_file = classpath_file.with_suffix(f".{os.getpid()}.partial")
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            f"-Dmaven.repo.local={repo}",
            "dependency:build-classpath",
            f"-Dmdep.outputFile={partial_file}",
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    if result.returncode != 0:
        partial_file.unlink(missing_ok=True)
        output = (result.stdout + result.stderr).strip().splitlines()[-30:]
        raise StartupError("Maven could not resolve Kafka's jars:\n" + "\n".join(output))
    partial_file.replace(classpath_file)
    classpath = classpath_file.read_text().strip()
    jars = len(classpath.split(os.pathsep))
    progress(f"kafka: resolved {jars} jars in {time.monotonic() - started:.1f}s ({classpath_file})")
    return classpath


def _cached_classpath(classpath_file: Path) -> str | None:
    try:
        classpath = classpath_file.read_text().strip()
    except FileNotFoundError:
        return None
    if classpath and all(Path(jar).is_file() for jar in classpath.split(os.pathsep)):
        return classpath
    return None


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if java is None or not Path(java).is_file():
        raise StartupError("Kafka needs Java 17 or newer; apt-get install openjdk-17-jre-headless")
    return java


def _log4j_opt(settings: Settings) -> str:
    return f"-Dlog4j2.configurationFile={_kafka_dir(settings) / 'log4j2.yaml'}"


@dataclass(frozen=True)
class SaslSslListener:
    """A SASL_SSL listener on 127.0.0.1: SCRAM-SHA-512 logins over TLS with the broker's PEM keystore.

    ``keystore`` is one PEM file with the broker's unencrypted private key and
    its certificate chain. The plaintext listener stays for the broker itself
    (inter-broker traffic) and for ``add_scram_user``.
    """

    port: int
    keystore: Path


def server_properties(settings: Settings, sasl_ssl: SaslSslListener | None = None) -> str:
    """The broker config: ``storage/kafka/server.properties`` with ports and log dir filled in.

    >>> props = server_properties(Settings(kafka_port=19092, kafka_controller_port=19093))
    >>> [line for line in props.splitlines() if line.startswith(("listeners", "controller.quorum"))]
    ['controller.quorum.voters=1@127.0.0.1:19093',
     'listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093']
    >>> props = server_properties(Settings(kafka_port=19092), SaslSslListener(19094, Path("/k.pem")))
    >>> [line for line in props.splitlines() if line.startswith(("listeners", "ssl.keystore.location"))]
    ['listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:19094',
     'ssl.keystore.location=/k.pem']
    """
    template = Template((_kafka_dir(settings) / "server.properties").read_text())
    properties = template.substitute(
        kafka_port=settings.kafka_port,
        kafka_controller_port=settings.kafka_controller_port,
        log_dir=_data_dir(settings),
    )
    if sasl_ssl is None:
        return properties
    listener = f"SASL_SSL://127.0.0.1:{sasl_ssl.port}"
    lines = []
    for line in properties.splitlines():
        if line.startswith(("listeners=", "advertised.listeners=")):
            line = f"{line},{listener}"
        elif line.startswith("listener.security.protocol.map="):
            line = f"{line},SASL_SSL:SASL_SSL"
        lines.append(line)
    lines += [
        "",
        "# SASL_SSL listener (aiops.stack.kafka.SaslSslListener): SCRAM-SHA-512 over TLS.",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        (
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={sasl_ssl.keystore}",
        "",
    ]
    return "\n".join(lines)


def add_scram_user(settings: Settings, username: str, password: str) -> None:
    """Give the local broker a SCRAM-SHA-512 user (through its plaintext listener); an existing one gets the new password."""
    admin = AdminClient({"bootstrap.servers": local_bootstrap(settings), "log_level": 0})
    upsert = UserScramCredentialUpsertion(
        username, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=30)


def _properties_path(settings: Settings) -> Path:
    return _stack_kafka_dir(settings) / "server.properties"


def prepare_kafka(
    settings: Settings, progress: Progress = _to_stderr, sasl_ssl: SaslSslListener | None = None
) -> Path:
    """Write ``<stack_dir>/kafka/server.properties`` and format the log dir if it is new.

    A log dir with ``meta.properties`` is formatted already and is never
    formatted again, so the broker keeps its topics and records across restarts.
    Returns the written properties file.
    """
    properties = _properties_path(settings)
    _data_dir(settings).mkdir(parents=True, exist_ok=True)
    properties.write_text(server_properties(settings, sasl_ssl))
    if not (_data_dir(settings) / "meta.properties").exists():
        _format_storage(settings, properties, progress)
    return properties


def _format_storage(settings: Settings, properties: Path, progress: Progress) -> None:
    cluster_id = _new_cluster_id()
    result = subprocess.run(
        [
            _java(),
            "-Xmx256m",
            _log4j_opt(settings),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(properties),
        ],
        env={**os.environ, "CLASSPATH": ensure_kafka_jars(settings, progress)},
        capture_output=True,
        check=False,
        text=True,
    )
    if result.returncode != 0:
        raise StartupError(
            f"formatting {_data_dir(settings)} failed:\n{(result.stdout + result.stderr).strip()}"
        )
    progress(f"kafka: formatted {_data_dir(settings)} for cluster {cluster_id}")


def _new_cluster_id() -> str:
    """A random cluster id in Kafka's format: 16 bytes, URL-safe base64, unpadded.

    Like Kafka's own ``Uuid.randomUuid``, it never starts with a dash, which
    command-line tools would read as a flag.

    >>> cluster_id = _new_cluster_id()
    >>> len(cluster_id), cluster_id.startswith("-")
    (22, False)
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def local_bootstrap(settings: Settings) -> str:
    """The bootstrap address of the local broker, which listens on 127.0.0.1 only.

    >>> local_bootstrap(Settings(kafka_port=19092))
    '127.0.0.1:19092'
    """
    return f"127.0.0.1:{settings.kafka_port}"


def broker_answers(bootstrap_servers: str, timeout_s: float = 2.0) -> bool:
    """True when a broker at ``bootstrap_servers`` returns metadata that lists a broker.

    Checks the first address with a plain TCP connect first, so polling a
    broker that is still starting costs nothing and logs nothing.
    """
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    if port_is_free(int(port), host):
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    try:
        return bool(admin.list_topics(timeout=timeout_s).brokers)
    except KafkaException:
        return False


def kafka_component(settings: Settings) -> Component:
    """The local broker as a ``Component``: the JVM command, its two ports, its probe.

    Call ``prepare_kafka`` first; ``local_kafka`` does both.
    """
    return Component(
        name=_NAME,
        command=[
            _java(),
            *HEAP_OPTS,
            *JVM_OPTS,
            _log4j_opt(settings),
            "kafka.Kafka",
            str(_properties_path(settings)),
        ],
        ports={
            "kafka_port": settings.kafka_port,
            "kafka_controller_port": settings.kafka_controller_port,
        },
        healthy=partial(broker_answers, local_bootstrap(settings)),
        startup_timeout_s=90.0,
        env={"CLASSPATH": ensure_kafka_jars(settings)},
        cwd=_stack_kafka_dir(settings),
    )


@contextmanager
def local_kafka(
    settings: Settings, progress: Progress = _to_stderr, sasl_ssl: SaslSslListener | None = None
) -> Iterator[str]:
    """Run the local broker for the length of a with-block; yield its (plaintext) bootstrap address.

    A broker already running for this stack dir is used and left running;
    one started here is stopped at the end. Topics are not created here: call
    ``aiops.topics.create_topics``.
    """
    prepare_kafka(settings, progress, sasl_ssl)
    process = ManagedProcess(kafka_component(settings), settings)
    started_here = process.pid is None
    started = time.monotonic()
    process.start()
    if started_here:
        progress(
            f"kafka: healthy on {local_bootstrap(settings)} in {time.monotonic() - started:.1f}s"
        )
    try:
        yield local_bootstrap(settings)
    finally:
        if started_here:
            process.stop()
