"""Calibration: from a raw anomaly score to a tail probability, and from that to a score in [0, 1].

Raw scores mean different things on different series (a standardised residual
of 3 is rare on a Gaussian series and common on a spiky one).

:class:`RecentVarianceTest` judges a run of standardised residuals: the
exponentially weighted mean of their squares (each ``|z|`` clipped at
``clip``) is, for Gaussian residuals, about ``chi2(nu) / nu`` with ``nu = (2 -
rate) / rate`` degrees of freedom (Satterthwaite's moment matching), and its
upper tail probability is reported. It catches what no single point shows: a
few moderately large residuals in a row (a dip, a burst of variance, a broken
season). The clip bounds what one point can add, so one spike alone cannot
make it fire.

:class:`AnomalyLikelihood` turns raw scores whose distribution is unknown
(HalfSpaceTrees') into a tail probability relative to the
series' own recent history, in the spirit of Numenta's anomaly likelihood
(Ahmad et al. 2017): a short-term average of the raw scores is compared with
the long-term distribution of that average, modelled as a Gaussian, and the
upper tail probability ``Q(z)`` is reported. Unlike Numenta's, the long-term
mean and variance are exponentially weighted (O(1) memory, no window buffer),
and the update is winsorised at ``clip_sigmas`` so that a long anomaly does
not teach the calibrator that anomalies are normal.

:func:`tail_score` maps a tail probability ``p`` to ``-log10(p) / 10`` in
[0, 1], so a threshold has one meaning on every series: a score of 0.5 means
``p = 1e-5``, 0.3 means ``p = 1e-3``, and 1.0 means ``p <= 1e-10``.

Where it fails: the Gaussian model of the averaged score is an approximation;
on a series whose raw scores are very heavy-tailed the tail probabilities are
too small (more alarms than the nominal rate), and during ``warmup`` it
reports ``p = 1`` (never anomalous). The chi-square test assumes independent
Gaussian residuals (on them it is calibrated: about 1% of points under
``p = 0.01``); heavy-tailed or autocorrelated residuals make its tail
probabilities too small (the clip limits the first, not the second).
"""

from __future__ import annotations

import math

__all__ = [
    "P_FLOOR",
    "SQRT2",
    "AnomalyLikelihood",
    "RecentVarianceTest",
    "gaussian_tail",
    "tail_score",
]

P_FLOOR = 1e-10
SQRT2 = math.sqrt(2.0)


def gaussian_tail(z: float) -> float:
    """The upper tail probability ``Q(z) = P(Z > z)`` of a standard normal.

    >>> gaussian_tail(0.0), round(gaussian_tail(3.0), 5)
    (0.5, 0.00135)
    """
    return 0.5 * math.erfc(z / SQRT2)


def tail_score(p: float) -> float:
    """A tail probability as a score in [0, 1]: ``-log10(p) / 10``, 1.0 at ``p <= 1e-10``.

    >>> tail_score(1.0), tail_score(1e-5), tail_score(1e-3), tail_score(0.0)
    (0.0, 0.5, 0.3, 1.0)
    """
    if p >= 1.0:
        return 0.0
    if not p > P_FLOOR:
        return 1.0
    return -math.log10(p) / 10.0


class AnomalyLikelihood:
    """Tail probability of a short-term average of raw scores against its long-term distribution.

    ``tail(raw)`` is the probability, under the series' own history, of a
    short-term average at least as high as the one ``raw`` would make; it
    does not change the state. ``update(raw)`` learns ``raw``.

    - short-term average: ``s += max(short_rate, 1/n) * (raw - s)``
    - long-term mean and variance of ``s``: exponentially weighted with rate
      ``max(long_rate, 1/n)`` (so the first values get a plain average),
      updated with ``s`` clipped at ``mean + clip_sigmas * std``
    - ``z = (s - mean) / max(std, min_std)``; ``p = Q(z)``; ``p = 1`` until
      ``warmup`` raw scores have been learnt.

    The numpy fast path (:mod:`aiops.anomaly.detectors.fast`) implements the same
    arithmetic, operation for operation.

    >>> import random
    >>> rng = random.Random(1)
    >>> likelihood = AnomalyLikelihood(warmup=10)
    >>> for _ in range(500):
    ...     likelihood.update(abs(rng.gauss(0, 1)))
    >>> likelihood.tail(0.8) > 0.1, likelihood.tail(8.0) < 1e-5
    (True, True)
    """

    __slots__ = (
        "clip_sigmas",
        "long_rate",
        "mean",
        "min_std",
        "n",
        "short",
        "short_rate",
        "var",
        "warmup",
    )

    def __init__(
        self,
        short_rate: float = 0.2,
        long_rate: float = 0.002,
        warmup: int = 30,
        min_std: float = 0.05,
        clip_sigmas: float = 6.0,
    ) -> None:
        self.short_rate = short_rate
        self.long_rate = long_rate
        self.warmup = warmup
        self.min_std = min_std
        self.clip_sigmas = clip_sigmas
        self.n = 0
        self.short = 0.0
        self.mean = 0.0
        self.var = 0.0

    def __getstate__(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def _short(self, raw: float) -> float:
        return self.short + max(self.short_rate, 1.0 / (self.n + 1)) * (raw - self.short)

    def tail(self, raw: float) -> float:
        """P(short-term average >= the one ``raw`` makes); 1.0 while warming up."""
        if self.n < self.warmup:
            return 1.0
        std = max(math.sqrt(self.var), self.min_std)
        return 0.5 * math.erfc((self._short(raw) - self.mean) / std / SQRT2)

    def update(self, raw: float) -> None:
        """Learn one raw score."""
        short = self._short(raw)
        self.short = short
        if self.n >= self.warmup:
            std = max(math.sqrt(self.var), self.min_std)
            short = min(short, self.mean + self.clip_sigmas * std)
        rate = max(self.long_rate, 1.0 / (self.n + 1))
        d = short - self.mean
        self.mean = self.mean + rate * d
        self.var = (1.0 - rate) * (self.var + rate * d * d)
        self.n += 1


class RecentVarianceTest:
    """Chi-square tail probability of the recent mean square of standardised residuals.

    ``tail(z)`` is the probability, for independent standard Gaussian
    residuals, of a recent mean square at least as high as the one ``z``
    would make; it does not change the state. ``update(z)`` learns ``z``.

    - ``mean_square += rate * (min(z, clip)**2 - mean_square)``, starting at
      1.0 (its expectation under the null)
    - ``p = Q_chi2(nu * mean_square; nu)``, ``nu = (2 - rate) / rate`` (9 at
      ``rate = 0.2``); ``gammaincc`` evaluates it, in this class and in the
      numpy fast path alike.

    >>> test = RecentVarianceTest()
    >>> for z in [0.5, 1.2, 0.3, 0.9, 1.1] * 4:
    ...     test.update(z)
    >>> test.tail(1.0) > 0.1, test.tail(50.0) > 1e-3  # one spike alone is clipped
    (True, True)
    >>> for z in [3.0, 3.0, 3.0]:  # three 3-sigma residuals in a row
    ...     test.update(z)
    >>> test.tail(3.0) < 1e-5
    True
    """

    __slots__ = ("clip", "mean_square", "rate")

    def __init__(self, rate: float = 0.2, clip: float = 3.0) -> None:
        self.rate = rate
        self.clip = clip
        self.mean_square = 1.0

    def __getstate__(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    @property
    def degrees_of_freedom(self) -> float:
        """``nu = (2 - rate) / rate``: the number of independent squares the weighted mean is worth."""
        return (2.0 - self.rate) / self.rate

    def _mean_square(self, z: float) -> float:
        clipped = min(z, self.clip)
        return self.mean_square + self.rate * (clipped * clipped - self.mean_square)

    def tail(self, z: float) -> float:
        """P(recent mean square >= the one ``z`` makes) for Gaussian residuals."""
        from scipy.special import gammaincc  # imported on first use: scipy takes 0.4 s to import

        nu = self.degrees_of_freedom
        return float(gammaincc(nu / 2.0, nu * self._mean_square(z) / 2.0))

    def update(self, z: float) -> None:
        """Learn one standardised residual ``|z|``."""
        self.mean_square = self._mean_square(z)
