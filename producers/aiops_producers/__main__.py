"""``python -m aiops_producers``: see ``aiops_producers.cli``."""

from aiops_producers.cli import app

if __name__ == "__main__":
    app(prog_name="python -m aiops_producers")
