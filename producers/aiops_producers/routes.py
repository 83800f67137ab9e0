"""The route mix: which demo-service requests to send, and how often each.

Pure. Requests are counted by route template (``/api/users/{user_id}``), the
same key the service's ``http.route`` attribute carries, so a load summary can
be compared with what the pipeline saw.

>>> import random
>>> call = DEFAULT_MIX.pick(random.Random(7))
>>> call.route in DEFAULT_MIX.shares()
True
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_MIX", "PRODUCT_IDS", "USER_IDS", "Call", "RouteMix", "RouteSpec", "order"]

USER_IDS = range(1, 101)
"""User ids the demo service knows (its catalogue); ids outside answer 404."""
PRODUCT_IDS = range(1, 21)
"""Product ids the demo service knows."""


@dataclass(frozen=True)
class Call:
    """One concrete request: method, route template, path and optional JSON body."""

    method: str
    route: str
    path: str
    json: dict[str, Any] | None = None


@dataclass(frozen=True)
class RouteSpec:
    """A route of the mix and its relative weight."""

    method: str
    route: str
    weight: float
    body: Callable[[random.Random], dict[str, Any]] | None = None

    def call(self, rng: random.Random) -> Call:
        """A request to this route, with ``{user_id}`` and the body drawn from ``rng``.

        >>> RouteSpec("GET", "/api/users/{user_id}", 1).call(random.Random(1)).path
        '/api/users/18'
        """
        path = self.route.replace("{user_id}", str(rng.choice(USER_IDS)))
        return Call(self.method, self.route, path, self.body(rng) if self.body else None)


def order(rng: random.Random) -> dict[str, Any]:
    """A checkout body: a known user buying one to three known products.

    >>> sorted(order(random.Random(3)))
    ['product_ids', 'user_id']
    """
    products = rng.sample(PRODUCT_IDS, k=rng.randint(1, 3))
    return {"user_id": rng.choice(USER_IDS), "product_ids": products}


class RouteMix:
    """Weighted routes; ``pick`` draws one request at a time."""

    def __init__(self, specs: tuple[RouteSpec, ...]):
        if not specs or any(s.weight < 0 for s in specs) or sum(s.weight for s in specs) <= 0:
            raise ValueError(
                "a route mix needs routes with non-negative weights and a positive sum"
            )
        self.specs = specs
        self._weights = [s.weight for s in specs]

    def shares(self) -> dict[str, float]:
        """Each route's expected share of the requests.

        >>> DEFAULT_MIX.shares()["/api/checkout"]
        0.05
        """
        total = sum(self._weights)
        return {s.route: s.weight / total for s in self.specs}

    def pick(self, rng: random.Random) -> Call:
        """Draw the next request."""
        return rng.choices(self.specs, weights=self._weights)[0].call(rng)


DEFAULT_MIX = RouteMix(
    (
        RouteSpec("GET", "/api/users", 0.50),
        RouteSpec("GET", "/api/products", 0.30),
        RouteSpec("GET", "/api/users/{user_id}", 0.15),
        RouteSpec("POST", "/api/checkout", 0.05, body=order),
    )
)
"""50% user list, 30% products, 15% one user, 5% checkout."""
