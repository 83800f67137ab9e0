"""The demo service's version, reported as ``service.version``."""

__version__ = "0.1.0"
