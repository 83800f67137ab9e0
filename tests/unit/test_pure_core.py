"""The pure rooms (decode, slo, anomaly) import no Kafka, Faust or FastAPI: every module of them, in a fresh interpreter."""

import subprocess
import sys

PURE_ROOMS = ("aiops.decode", "aiops.slo", "aiops.anomaly")
SHELL_ONLY = ("faust", "confluent_kafka", "fastapi", "aiokafka")


def test_the_pure_rooms_import_no_kafka_faust_or_fastapi():
    code = (
        "import importlib, pkgutil, sys\n"
        f"for room in {PURE_ROOMS!r}:\n"
        "    package = importlib.import_module(room)\n"
        "    for module in pkgutil.walk_packages(package.__path__, room + '.'):\n"
        "        importlib.import_module(module.name)\n"
        f"print(sorted(m for m in {SHELL_ONLY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_every_pure_room_is_walked():
    code = (
        "import importlib, pkgutil\n"
        f"for room in {PURE_ROOMS!r}:\n"
        "    package = importlib.import_module(room)\n"
        "    print(room, sum(1 for _ in pkgutil.walk_packages(package.__path__, room + '.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()}
    assert all(counts[room] >= 3 for room in PURE_ROOMS), counts
