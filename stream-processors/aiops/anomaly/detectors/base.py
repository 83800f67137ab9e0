"""The detector protocol: ``learn_one(x)`` and ``score_one(x) -> float``, higher is more anomalous.

A detector watches one univariate series. ``x`` is the series' next value, a
float. ``None`` and NaN mean *missing* (a gap: the point was not measured);
every detector scores a missing value ``0.0`` and treats it as a step in which
nothing was learnt. Infinite and huge values are clipped to ``±MAX_ABS`` (see
:mod:`aiops.anomaly.detectors.values`), so no input raises.

``score_one`` never changes the detector; ``learn_one`` does. The causal loop
scores a point from the points before it, then learns it: :func:`score_many`.
Thresholds and alert decisions are separate objects, not part of a detector.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Iterable, Iterator
from typing import Any, Self

__all__ = ["Detector", "SlotsState", "score_many"]


class Detector(abc.ABC):
    """Base class of every detector: the two-method contract plus ``clone``.

    Subclasses store each ``__init__`` argument under the same attribute name,
    so :meth:`clone` can build a fresh, untrained copy with the same
    parameters (river's convention).

    >>> from aiops.anomaly.detectors import HoltWintersDetector
    >>> detector = HoltWintersDetector(alpha=0.5)
    >>> detector.clone()
    HoltWintersDetector(alpha=0.5)
    >>> scores = score_many(detector, [1.0, 1.1, 0.9, 1.0, 1.05, 0.95] * 5 + [9.0])
    >>> scores[-1] > 0.5 > max(scores[:-1])
    True
    """

    @abc.abstractmethod
    def learn_one(self, x: float | None) -> None:
        """Update the detector with the series' next value (``None``/NaN: a missing point)."""

    @abc.abstractmethod
    def score_one(self, x: float | None) -> float:
        """How anomalous ``x`` is given the values learnt so far; does not change the detector."""

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        """Parameter sets the conformance suite runs this detector with (small and fast)."""
        yield {}

    def _get_params(self) -> dict[str, Any]:
        """The ``__init__`` arguments that differ from their defaults."""
        params = {}
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or parameter.kind in (
                parameter.VAR_POSITIONAL,
                parameter.VAR_KEYWORD,
            ):
                continue
            value = getattr(self, name)
            if parameter.default is parameter.empty or value != parameter.default:
                params[name] = value
        return params

    def clone(self) -> Self:
        """A fresh, untrained detector with the same parameters."""
        return type(self)(**self._get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._get_params().items())
        return f"{type(self).__name__}({args})"


def score_many(detector: Detector, values: Iterable[float | None]) -> list[float]:
    """Score each value from the values before it, then learn it; one score per value.

    This is the causal (progressive) loop every shell runs.

    >>> from aiops.anomaly.detectors import WindowedGaussian
    >>> score_many(WindowedGaussian(window_size=4, step_size=1), [1.0, 2.0, None, 1.0])
    [0.0, 1.0, 0.0, 0.841...]
    """
    scores = []
    for x in values:
        scores.append(detector.score_one(x))
        detector.learn_one(x)
    return scores


class SlotsState:
    """Pickle support for the small ``__slots__`` state objects inside detectors: the state is every slot by name."""

    __slots__ = ()

    def __getstate__(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)
