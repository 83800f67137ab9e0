"""Who may read and change the demo's faults: loopback clients, or callers with the fault token.

Fault injection breaks the service on purpose, so it must not be open to
whoever reaches the port. The rule:

- with a token configured (``AIOPS_DEMO_FAULT_TOKEN``), every ``/faults``
  request must carry ``Authorization: Bearer <token>``: 401 without it, 403
  with a wrong one;
- without a token, only loopback clients may use ``/faults`` (the local stack
  and its tests); any other client gets 403 saying how to set one.

The client address is the TCP peer as uvicorn reports it (``X-Forwarded-For``
only from a proxy on loopback), so a service published through Docker or a
Kubernetes Service sees its callers as non-loopback and needs the token.

>>> FaultAccess().refusal("127.0.0.1", None) is None
True
>>> FaultAccess().refusal("10.1.2.3", None)[0]
403
>>> FaultAccess("s3cret").refusal("10.1.2.3", "Bearer s3cret") is None
True
>>> FaultAccess("s3cret").refusal("127.0.0.1", None)[0]
401
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

__all__ = ["FAULT_TOKEN_ENV", "FaultAccess", "is_loopback"]

FAULT_TOKEN_ENV = "AIOPS_DEMO_FAULT_TOKEN"
"""The environment variable that holds the fault token (a Kubernetes Secret or compose's env)."""


def is_loopback(host: str | None) -> bool:
    """True for a loopback address or ``localhost``; False for anything else, or no address.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5", None)]
    [True, True, True, False, False, False]
    """
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FaultAccess:
    """The fault token, if any (empty counts as none), and the rule that checks requests with it."""

    token: str | None = None

    def __post_init__(self) -> None:
        if not self.token:
            object.__setattr__(self, "token", None)

    def refusal(self, client_host: str | None, authorization: str | None) -> tuple[int, str] | None:
        """``(status, message)`` when a ``/faults`` request must be refused, else None.

        >>> FaultAccess("s3cret").refusal("10.1.2.3", "Bearer nope")
        (403, 'wrong fault token')
        """
        if self.token is None:
            if is_loopback(client_host):
                return None
            who = client_host or "an unknown client"
            return 403, (
                f"fault injection from {who} needs a token: start the demo service with "
                f"{FAULT_TOKEN_ENV} set and send 'Authorization: Bearer <token>'"
            )
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return 401, "fault injection needs 'Authorization: Bearer <token>'"
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return 403, "wrong fault token"
        return None
