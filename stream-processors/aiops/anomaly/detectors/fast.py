"""The default detector for many series at once: numpy arrays over series, one micro-batch at a time.

Design
------
:class:`FastCombined` is :class:`~aiops.anomaly.detectors.combined.CombinedDetector`
(the Holt-Winters residual, point-wise and over recent points, runs of
repeated values, and HalfSpaceTrees, Bonferroni-combined) with the state of
every series held in numpy arrays, one row per series (a *slot*). A
micro-batch is a list of ``(series, value)`` points;
points of different series are processed together, vectorised over rows;
the k-th point of a series in a batch is processed in the k-th *round*, so
each series still sees its points in order. Per round, every operation is the
one the reference performs, in the same order, on float64:

- Holt-Winters: level, trend and a ring buffer of ``season`` seasonal terms
  per row (river's additive update equations; the ring buffer doubles as the
  initialisation buffer); residual scale, clipping, gap imputation as in
  :class:`~aiops.anomaly.detectors.holt_winters.HoltWintersDetector`.
- HalfSpaceTrees: the trees are drawn once from ``seed`` by river itself
  (``anomaly.HalfSpaceTrees``) and flattened into heap-ordered threshold and
  feature arrays shared by all rows, since the structure does not depend on
  the data. Per row only the reference masses (river's ``r_mass``, ``uint8``
  while ``window_size <= 255``) and the leaf each tree gave each point of the
  current window are kept. Scoring walks the trees level by level as gathers
  on flat index arrays (``height + 1`` steps for all rows and trees at once);
  learning writes one leaf per tree, and the window's masses are rebuilt from
  the leaves when it pivots (river reads ``l_mass`` at no other time), which
  gives river's masses exactly.
- The recent mean square of residuals, scalers and the trees' calibrator:
  a handful of float64 columns each.

- The resolution (previous value, smallest step, integers so far) that
  floors the residual and feature scales, and the residual tail (exceedance
  rate, mean and variance of excesses): a few columns.

So the fast path is not an approximation: its state evolves bit for bit as
river's models do (same IEEE operations, no fused multiply-add), and scores
differ only by the last bits of ``log`` and ``log1p`` (numpy versus the
``math`` module; both take the Gaussian log-tail from scipy's ``log_ndtr`` and
the chi-square tail from scipy's ``gammaincc``).
The equivalence test (``tests/unit/test_fast_path_equivalence.py``) holds it
to ``TOLERANCE = 1e-9`` absolute on every score and forecast, on spikes, gaps,
huge values, constant, seasonal and frozen series, batches with several
points per series.

Memory per live series (:attr:`FastCombined.bytes_per_series`):
``n_trees * (2**(height + 1) - 1)`` mass bytes (5,110 at the defaults), plus
``window_size * n_trees`` leaf bytes (2,500), plus ``8 * season`` bytes,
plus 306 bytes of scalars: 7,916 B (7.7 KiB) without a season, 19,444 B with
a season of 1,440 points, plus the key in the series index. river's
HalfSpaceTrees alone takes about 1 MiB per series at the same defaults.

Where it fails: every series in one bank shares the parameters (use one bank
per parameter set, e.g. per season length); slots beyond ``max_series`` are
refused (score NaN, counted in :attr:`FastCombined.skipped`), never allocated.
"""

from __future__ import annotations

import inspect
import json
import math
import zlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from aiops.anomaly.detectors.base import Detector
from aiops.anomaly.detectors.calibration import (
    EVIDENCE_PRIOR,
    LN2,
    LN10,
    LONG_RUN,
    TAIL_MIN_MEAN,
    AnomalyLikelihood,
    RepeatRun,
    ResidualTail,
)
from aiops.anomaly.detectors.combined import (
    ELEVATED_LOG_P,
    HST_MIN_STD,
    POINT_TAIL_LEARN_P,
    STUCK_MAX_RUN,
    STUCK_RATE,
    CombinedDetector,
)
from aiops.anomaly.detectors.holt_winters import HoltWintersDetector
from aiops.anomaly.detectors.scaling import RESOLUTION_SCALE, CausalScaler
from aiops.anomaly.detectors.values import MAX_ABS, clean
from aiops.anomaly.rows import grown_rows, reset_rows

__all__ = ["TOLERANCE", "FastCombined", "FastDetector", "StepResult"]

TOLERANCE = 1e-9
"""Largest absolute difference of a score or forecast from :class:`CombinedDetector` on the same input."""

_STATE_VERSION = 3


def _defaults(cls: type) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.default is not p.empty
    }


PARAMS: dict[str, Any] = _defaults(CombinedDetector)
"""The parameters of the fast path and their defaults: exactly :class:`CombinedDetector`'s."""


Hold = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``hold(positions, scores, forecasts, sigmas) -> positions``: which scored points not to learn."""


class StepResult(NamedTuple):
    """Per input point, in input order: the score, and the forecast and residual scale it was judged by."""

    scores: np.ndarray
    forecasts: np.ndarray
    sigmas: np.ndarray


def _log_ndtr(x: np.ndarray) -> np.ndarray:
    from scipy.special import log_ndtr

    return log_ndtr(x)


def _score_from_log_tail(log_p: np.ndarray) -> np.ndarray:
    """:func:`~aiops.anomaly.detectors.calibration.score_from_log_tail`, element-wise."""
    evidence = -log_p / LN10
    return np.where(
        evidence > 0.0, np.where(evidence <= 5.0, evidence / 10.0, 1.0 - 2.5 / evidence), 0.0
    )


def _gpd_shape(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`ResidualTail.shape`, element-wise: ``(xi, sigma)``."""
    mean_excess = np.maximum(mean, TAIL_MIN_MEAN)
    ratio = mean_excess * mean_excess / np.maximum(var, mean_excess * mean_excess * 1e-12)
    heavy = ratio < 1.0
    return (
        np.where(heavy, 0.5 * (1.0 - ratio), 0.0),
        np.where(heavy, 0.5 * mean_excess * (1.0 + ratio), mean_excess),
    )


def _gpd_log_tail(
    x: np.ndarray, threshold: float, zeta: np.ndarray, mean: np.ndarray, var: np.ndarray
) -> np.ndarray:
    """:meth:`ResidualTail.log_tail`, element-wise."""
    log_zeta = np.log(zeta)
    excess = x - threshold
    xi, scale = _gpd_shape(mean, var)
    beyond = np.where(
        xi > 0.0, log_zeta - np.log1p(xi * excess / scale) / xi, log_zeta - excess / scale
    )
    return np.where(excess > 0.0, beyond, log_zeta * x / threshold)


def _gpd_update(
    x: np.ndarray,
    threshold: float,
    zeta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    rate: float,
    exceed_rate: float,
    learn_p: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`ResidualTail.update`, element-wise: the new ``(zeta, mean, var)``."""
    excess = x - threshold
    exceeds = excess > 0.0
    zeta_next = zeta + exceed_rate * (exceeds - zeta)
    xi, scale = _gpd_shape(mean, var)
    c = np.minimum(learn_p / zeta, 1.0)
    quantile = np.where(xi > 0.0, scale * (c**-xi - 1.0) / xi, -scale * np.log(c))
    excess = np.minimum(excess, quantile)
    d = excess - mean
    return (
        zeta_next,
        np.where(exceeds, mean + rate * d, mean),
        np.where(exceeds, (1.0 - rate) * (var + rate * d * d), var),
    )


def _gammaincc(a: float, x: np.ndarray) -> np.ndarray:
    from scipy.special import gammaincc

    return gammaincc(a, x)


def _flatten_trees(
    n_trees: int, height: int, window_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """river's trees for ``seed``, as heap-ordered ``(thresholds, features)`` of shape ``(n_trees * nodes,)``.

    Features: 0 is ``"d"`` (the change), 1 is ``"v"`` (the value), river's sorted order.
    """
    from river import anomaly

    hst = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
    hst.learn_one({"d": 0.5, "v": 0.5})  # river draws the trees on the first learn_one
    nodes = 2 ** (height + 1) - 1
    thresholds = np.full(n_trees * nodes, np.inf)
    features = np.zeros(n_trees * nodes, dtype=np.int8)
    for t, tree in enumerate(hst.trees):
        stack = [(tree, 0)]
        while stack:
            node, i = stack.pop()
            if not hasattr(node, "threshold"):  # a leaf
                continue
            thresholds[t * nodes + i] = node.threshold
            features[t * nodes + i] = {"d": 0, "v": 1}[node.feature]
            left, right = node.children
            stack.append((left, 2 * i + 1))
            stack.append((right, 2 * i + 2))
    return thresholds, features


class FastCombined:
    """:class:`CombinedDetector` for many series in numpy arrays; score and learn a micro-batch at once.

    Takes the same parameters as :class:`CombinedDetector` (all series in a
    bank share them), plus ``capacity`` (rows allocated up front; doubled when
    full) and ``max_series`` (the cap on live series; ``None``: no cap).

    >>> import numpy as np
    >>> bank = FastCombined(window_size=50)
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(300):
    ...     _ = bank.score_learn(["a", "b"], [rng.normal(1.0, 0.1), rng.normal(900.0, 40.0)])
    >>> result = bank.score_learn(["a", "b", "a"], [1.0, 900.0 + 8 * 40.0, np.nan])
    >>> result.scores.round(2).tolist()  # "b" jumped by 8 sigmas; "a"'s second point is missing
    [0.0, 0.7, 0.0]
    >>> len(bank), FastCombined().bytes_per_series, FastCombined(season=1440).bytes_per_series
    (2, 7916, 19444)
    """

    def __init__(
        self, *, capacity: int = 1024, max_series: int | None = None, **params: Any
    ) -> None:
        unknown = set(params) - set(PARAMS)
        if unknown:
            raise TypeError(
                f"unknown parameters {sorted(unknown)}; FastCombined takes {sorted(PARAMS)}"
            )
        p = {**PARAMS, **params}
        if p["season"] == 1 or p["season"] < 0:
            raise ValueError(f"season must be 0 (none) or at least 2, not {p['season']}")
        if p["season"] and not p["beta"]:
            raise ValueError("a seasonal Holt-Winters needs a trend: set beta > 0")
        self.params = p
        self.max_series = max_series
        self.skipped = 0
        hw = _defaults(HoltWintersDetector)
        self._min_sigma, self._min_rel_sigma, self._max_z = (
            hw["min_sigma"],
            hw["min_rel_sigma"],
            hw["max_z"],
        )
        self._res_scale = hw["resolution_scale"]
        self._tail_learn_p = POINT_TAIL_LEARN_P
        self._recent_tail_learn_p = ResidualTail().learn_p
        self._tail_prior = ResidualTail.prior(p["tail_threshold"])
        scaler = CausalScaler()
        self._sc_warmup, self._sc_min_sigma, self._sc_min_rel = (
            scaler.warmup,
            scaler.min_sigma,
            scaler.min_rel_sigma,
        )
        self._cal_clip = AnomalyLikelihood().clip_sigmas
        self._stuck_warmup = RepeatRun().warmup
        self._views = 4 if p["hst"] else 3  # the Bonferroni factor, as CombinedDetector's
        self._m = int(p["season"])
        self._k = max(2, self._m)
        self._nodes = 2 ** (p["height"] + 1) - 1
        if p["hst"]:
            self._thr, features = _flatten_trees(
                p["n_trees"], p["height"], p["window_size"], p["seed"]
            )
            self._on_v = features == 1
        window = p["window_size"]
        self._mass_dtype = (
            np.uint8 if window <= 255 else np.uint16 if window <= 65535 else np.uint32
        )
        height = p["height"]
        self._leaf_dtype = np.uint8 if height <= 8 else np.uint16 if height <= 16 else np.uint32
        self._keys: dict[Hashable, int] = {}
        self._free: list[int] = []
        self._used = 0
        self._state: dict[str, np.ndarray] = {}
        self._grow(max(1, capacity))

    # -- state layout ---------------------------------------------------------------

    def _fields(self) -> dict[str, tuple[np.dtype, tuple[int, ...], float]]:
        """Each per-series array: dtype, shape of one row, initial value."""
        f8, i8 = np.dtype(np.float64), np.dtype(np.int64)
        fields: dict[str, tuple[np.dtype, tuple[int, ...], float]] = {
            "hw_count": (i8, (), 0),
            "hw_sum": (f8, (), 0.0),
            "level": (f8, (), 0.0),
            "trend": (f8, (), 0.0),
            "res_n": (i8, (), 0),
            "hw_run": (i8, (), 0),  # values in a row beyond the clip, signed by side
            "res_var": (f8, (), 0.0),
            "hw_recent": (f8, (), 1.0),  # mean square of recent clipped residuals
            "hw_prev": (
                f8,
                (),
                math.nan,
            ),  # the resolution: previous value, smallest step, all integers so far
            "res_small": (f8, (), math.inf),
            "res_int": (np.dtype(bool), (), True),
            "tail_zeta": (
                f8,
                (),
                self._tail_prior[0],
            ),  # the residual tail: exceedance rate, excess mean, variance
            "tail_mean": (f8, (), self._tail_prior[1]),
            "tail_var": (f8, (), self._tail_prior[2]),
            "rtail_zeta": (f8, (), EVIDENCE_PRIOR[0]),  # the recent view's evidence tail, likewise
            "rtail_mean": (f8, (), EVIDENCE_PRIOR[1]),
            "rtail_var": (f8, (), EVIDENCE_PRIOR[2]),
        }
        if self._m:
            fields["phase"] = (i8, (), 0)
            fields["season"] = (f8, (self._m,), 0.0)
        if self.params["hst"]:
            mass = np.dtype(self._mass_dtype)
            shape = (self.params["n_trees"], self._nodes)
            fields |= {
                "sc": (f8, (5,), 0.0),  # n, value mean, value var, change mean, change var
                "prev": (f8, (), math.nan),
                "hst_r": (mass, shape, 0),  # river's r_mass: the previous window's counts
                "hst_leaf": (
                    np.dtype(self._leaf_dtype),
                    (self.params["window_size"], self.params["n_trees"]),
                    0,
                ),
                "hst_count": (i8, (), 0),
                "hst_ready": (np.dtype(bool), (), False),
                "cal_hst": (f8, (4,), 0.0),
            }
        fields |= {  # the stuck view (RepeatRun; its previous value is hw_prev), last: see import_states
            "stuck_run": (i8, (), 0),
            "stuck_steps": (i8, (), 0),
            "stuck_n": (f8, (3,), 0.0),  # forgotten counts: steps, steps in a run, in a long run
            "stuck_r": (f8, (3,), 0.0),  # and the repeats among them
            "stuck_log_q": (f8, (3,), 0.0),  # the chances as the current run began
        }
        return fields

    def _grow(self, capacity: int) -> None:
        self._state = grown_rows(self._state, self._fields(), capacity)

    def _reset(self, slots: np.ndarray | list[int]) -> None:
        reset_rows(self._state, self._fields(), slots)

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return len(self._state["level"])

    @property
    def bytes_per_series(self) -> int:
        """Bytes of detector state per series (the arrays' row size)."""
        return sum(a.nbytes // len(a) for a in self._state.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    # -- series and slots -----------------------------------------------------------

    def slots(self, keys: Iterable[Hashable]) -> np.ndarray:
        """The slot of each key, allocated (fresh state) for new keys; -1 beyond ``max_series``."""
        index = self._keys
        out = []
        for key in keys:
            slot = index.get(key)
            if slot is None:
                slot = self._allocate()
                if slot >= 0:
                    index[key] = slot
            out.append(slot)
        return np.asarray(out, dtype=np.int64)

    def find(self, keys: Iterable[Hashable]) -> np.ndarray:
        """The slot of each key, -1 for keys without one (nothing allocated)."""
        index = self._keys
        return np.fromiter((index.get(key, -1) for key in keys), dtype=np.int64)

    def _allocate(self) -> int:
        if self.max_series is not None and len(self._keys) >= self.max_series:
            return -1
        if self._free:
            return self._free.pop()
        if self._used == self.capacity:
            self._grow(2 * self.capacity)
        self._used += 1
        return self._used - 1

    def forget(self, keys: Iterable[Hashable]) -> int:
        """Drop series (idle, expired); their rows are reset and reused. Returns how many were dropped."""
        slots = [self._keys.pop(k) for k in keys if k in self._keys]
        if slots:
            self._reset(slots)
            self._free.extend(slots)
        return len(slots)

    def keys(self) -> list[Hashable]:
        """The live series."""
        return list(self._keys)

    def export_state(self, key: Hashable) -> bytes:
        """One series' state as bytes (for a checkpoint topic or changelog): :meth:`export_states` of one."""
        return self.export_states([key])

    def export_states(self, keys: Sequence[Hashable]) -> bytes:
        """The state of ``keys`` (live series) as one blob, rows in the order given.

        A JSON header (version, parameters, rows, each field's dtype and
        shape), a newline, then each field's rows as raw bytes, zlib-compressed:
        restoring it runs no pickle, so a checkpoint cannot smuggle code into a
        worker, and a resource's hundred series cost one compression, not a
        hundred.
        """
        slots = np.array([self._keys[key] for key in keys], dtype=np.int64)
        header = json.dumps(
            {
                "version": _STATE_VERSION,
                "params": self.params,
                "fields": self._layout(),
                "rows": len(slots),
            },
            sort_keys=True,
        )
        body = b"".join(array[slots].tobytes() for array in self._state.values())
        return zlib.compress(header.encode() + b"\n" + body, 1)

    def _layout(self) -> list[list]:
        return [
            [name, array.dtype.str, list(array.shape[1:])] for name, array in self._state.items()
        ]

    def import_state(self, key: Hashable, data: bytes) -> None:
        """Restore one series from :meth:`export_state`; the parameters must match this bank's."""
        self.import_states([key], data)

    def import_states(self, keys: Sequence[Hashable], data: bytes) -> None:
        """Restore ``keys`` from :meth:`export_states` (the same keys, in order); parameters must match.

        A checkpoint without some of this bank's fields (taken before a
        release added them) restores the fields it has; the others start at
        their initial values, so an upgrade keeps every series' history.
        """
        raw = zlib.decompress(data)
        header_bytes, body = raw.split(b"\n", 1)
        header = json.loads(header_bytes)
        layout = self._layout()
        fields = header.get("fields")
        if (
            header.get("version") != _STATE_VERSION
            or not isinstance(fields, list)
            or any(field not in layout for field in fields)
            or header.get("params") != json.loads(json.dumps(self.params, sort_keys=True))
        ):
            raise ValueError(
                "state was exported by a detector with other parameters or another version"
            )
        rows = header.get("rows", 1)
        if rows != len(keys):
            raise ValueError(f"state holds {rows} series, {len(keys)} keys given")
        slots = self.slots(keys)
        if (slots < 0).any():
            self.forget([key for key, slot in zip(keys, slots.tolist()) if slot >= 0])
            raise ValueError(
                f"cannot restore {len(keys)} series: max_series={self.max_series} reached"
            )
        self._reset(slots)  # a field the checkpoint lacks (a later release's) starts fresh
        offset = 0
        for name, _dtype, _shape in fields:
            array = self._state[name]
            size = array[0].nbytes * rows
            array[slots] = np.frombuffer(
                body, dtype=array.dtype, count=size // array.itemsize, offset=offset
            ).reshape((rows, *array.shape[1:]))
            offset += size

    def snapshot(self, slots: np.ndarray) -> dict[str, np.ndarray]:
        """A copy of the state rows of ``slots``, to put back with :meth:`restore`.

        With them a caller can score and learn a point, then take the
        learning back (the detect engine does not let a possible anomaly
        teach the model).

        >>> bank = FastCombined(hst=False)
        >>> slots = bank.slots(["a"])
        >>> _ = bank.score_learn_slots(slots, [1.0])
        >>> saved = bank.snapshot(slots)
        >>> _ = bank.score_learn_slots(slots, [50.0])
        >>> bank.restore(slots, saved)
        >>> bank.snapshot(slots)["hw_count"].tolist()  # the point of 50 is not learnt
        [1]
        """
        return {name: array[slots].copy() for name, array in self._state.items()}

    def restore(self, slots: np.ndarray, rows: dict[str, np.ndarray]) -> None:
        """Put back state rows that :meth:`snapshot` took (``rows`` aligned with ``slots``)."""
        for name, array in self._state.items():
            array[slots] = rows[name]

    def set_phase(self, slots: np.ndarray, phase: np.ndarray) -> None:
        """Point the seasonal ring of ``slots`` at ``phase`` (a wall-clock phase: gaps keep the cycle in step)."""
        if not self._m:
            raise ValueError("a bank without a season has no phase")
        self._state["phase"][slots] = np.asarray(phase, dtype=np.int64) % self._m

    def relevel(self, slots: np.ndarray, y: np.ndarray) -> None:
        """Take ``y``, the value each of ``slots`` learnt last, as its series' level from now on.

        For a caller that knows a step is lasting (the stream, once an alert
        episode has held for its policy's ``learn_after`` points): the
        forecaster's level jumps to the value (less its seasonal term, the
        one at the phase just learnt) instead of creeping up on it at
        ``alpha * clip_sigmas`` sigmas a point, as the reference's
        ``relevel_after`` does after a run of clipped values. Slots whose
        forecaster is not initialised yet, and missing values, are left alone.

        >>> bank = FastCombined(hst=False, warmup=5)
        >>> for _ in range(50):
        ...     _ = bank.score_learn(["a"], [10.0 + 0.1 * (_ % 2)])
        >>> _ = bank.score_learn(["a"], [50.0])
        >>> bank.relevel(bank.slots(["a"]), np.array([50.0]))
        >>> round(float(bank.score_learn(["a"], [50.0]).forecasts[0]), 1)
        50.0
        """
        slots = np.asarray(slots, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        st = self._state
        take = (st["hw_count"][slots] >= self._k) & ~np.isnan(y)
        slots, y = slots[take], y[take]
        season = st["season"][slots, (st["phase"][slots] - 1) % self._m] if self._m else 0.0
        st["level"][slots] = y - season
        st["hw_run"][slots] = 0

    def seed_season(
        self,
        slot: int,
        rows: dict[str, np.ndarray],
        level: float,
        trend: float,
        terms: np.ndarray,
        phase: int,
    ) -> None:
        """Start ``slot``'s seasonal Holt-Winters from a season found elsewhere, keeping the rest of ``rows``.

        ``rows`` is one row of another bank's :meth:`snapshot` (same
        parameters but the season): its residual scale, tails, resolution and
        trees carry over, so the track goes on scoring with what it learnt;
        the forecaster starts initialised at ``level`` and ``trend`` with the
        seasonal ``terms`` (``self.params["season"]`` of them), ``phase``
        the term of the next point.
        """
        if not self._m or len(terms) != self._m:
            raise ValueError(f"{len(terms)} seasonal terms for a season of {self._m}")
        st = self._state
        for name, array in st.items():
            if name in rows and array[slot].shape == rows[name][0].shape:
                array[slot] = rows[name][0]
        st["hw_count"][slot] = self._k
        st["level"][slot], st["trend"][slot] = level, trend
        st["season"][slot] = terms
        st["phase"][slot] = phase % self._m

    # -- scoring --------------------------------------------------------------------

    def score_learn(
        self, keys: Sequence[Hashable], values: Sequence[float] | np.ndarray
    ) -> StepResult:
        """Score each point from its series' earlier points, then learn it; results in input order.

        Points of one series are taken in the order given. Values are cleaned as
        every detector cleans them (NaN: missing, score 0; inf and huge: clipped).
        Points of series refused by ``max_series`` score NaN.
        """
        return self.score_learn_slots(self.slots(keys), values)

    def score_learn_slots(
        self,
        slots: np.ndarray,
        values: Sequence[float] | np.ndarray,
        learn: bool = True,
        hold: Hold | None = None,
    ) -> StepResult:
        """:meth:`score_learn` by slot; ``learn=False`` scores without changing any state.

        ``hold(positions, scores, forecasts, sigmas)`` is called with each
        round's points (their positions in ``slots``) once they are scored
        and before they are learnt; the positions it returns are scored but
        not learnt (their rows are put back as they were). Only those rows are
        copied, so holding a few points of a large batch costs little.
        """
        slots = np.asarray(slots, dtype=np.int64)
        try:
            y = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):  # something that is not a number: missing, as clean() says
            y = np.array([clean(v) for v in values], dtype=np.float64)
        y = np.clip(y, -MAX_ABS, MAX_ABS)
        n = len(slots)
        scores = np.full(n, np.nan)
        forecasts = np.full(n, np.nan)
        sigmas = np.full(n, np.nan)
        live = slots >= 0
        self.skipped += int(n - np.count_nonzero(live))
        if not live.all():
            idx = np.flatnonzero(live)
            inner_hold = (
                None
                if hold is None
                else lambda p, *scored: np.searchsorted(idx, hold(idx[p], *scored))
            )
            inner = self.score_learn_slots(slots[idx], y[idx], learn, inner_hold)
            scores[idx], forecasts[idx], sigmas[idx] = inner
            return StepResult(scores, forecasts, sigmas)
        if n == 0:
            return StepResult(scores, forecasts, sigmas)
        counts = np.bincount(slots)
        if counts.max() == 1:
            rounds = [np.arange(n)]
        else:
            order = np.argsort(slots, kind="stable")
            ordered = slots[order]
            starts = np.r_[True, ordered[1:] != ordered[:-1]]
            first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n) - first
            rounds = [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]
        with np.errstate(all="ignore"):
            for idx in rounds:
                round_hold = (
                    None
                    if hold is None
                    else lambda *scored, idx=idx: np.searchsorted(idx, hold(idx, *scored))
                )
                s, f, g = self._round(slots[idx], y[idx], learn, round_hold)
                scores[idx], forecasts[idx], sigmas[idx] = s, f, g
        return StepResult(scores, forecasts, sigmas)

    def _log_tail(
        self, cal: np.ndarray, raw: np.ndarray, min_std: float
    ) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        n, short, mean, var = cal[:, 0], cal[:, 1], cal[:, 2], cal[:, 3]
        s = short + np.maximum(p["short_rate"], 1.0 / (n + 1)) * (raw - short)
        std = np.maximum(np.sqrt(var), min_std)
        log_tail = _log_ndtr(-((s - mean) / std))
        return np.where(n >= p["calibration_warmup"], log_tail, 0.0), s

    def _calibrate(self, cal: np.ndarray, s: np.ndarray, min_std: float) -> np.ndarray:
        p = self.params
        n, mean, var = cal[:, 0], cal[:, 2], cal[:, 3]
        std = np.maximum(np.sqrt(var), min_std)
        clipped = np.where(
            n >= p["calibration_warmup"], np.minimum(s, mean + self._cal_clip * std), s
        )
        rate = np.maximum(p["long_rate"], 1.0 / (n + 1))
        d = clipped - mean
        out = np.empty_like(cal)
        out[:, 0] = n + 1
        out[:, 1] = s
        out[:, 2] = mean + rate * d
        out[:, 3] = (1.0 - rate) * (var + rate * d * d)
        return out

    def _scale(
        self, v: np.ndarray, n: np.ndarray, mean: np.ndarray, var: np.ndarray, floor: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """Transform ``v`` to [0, 1] and the updated ``(mean, var)``, as ``CausalScaler``."""
        rng = self.params["scale_range"]
        sigma = np.maximum(
            np.maximum(np.sqrt(var), self._sc_min_sigma + self._sc_min_rel * np.abs(mean)), floor
        )
        u = np.minimum(1.0, np.maximum(0.0, 0.5 + (v - mean) / sigma / (2.0 * rng)))
        bound = rng * sigma
        w = np.where(n >= self._sc_warmup, np.minimum(np.maximum(v, mean - bound), mean + bound), v)
        rate = np.maximum(self.params["scale_rate"], 1.0 / (n + 1))
        d = w - mean
        return u, mean + rate * d, (1.0 - rate) * (var + rate * d * d)

    def _round(
        self,
        rows: np.ndarray,
        y: np.ndarray,
        learn: bool,
        hold: Callable[..., np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One point for each of ``rows`` (distinct)."""
        p, st, m, k = self.params, self._state, self._m, self._k
        valid = ~np.isnan(y)

        # Holt-Winters forecast and residual
        count = st["hw_count"][rows]
        inited = count >= k
        level, trend = st["level"][rows], st["trend"][rows]
        if m:
            phase = st["phase"][rows]
            s_old = st["season"][rows, phase]
        else:
            s_old = 0.0
        yhat = (level + trend) + s_old
        res_n, res_var = st["res_n"][rows], st["res_var"][rows]
        prev_y, res_small, res_int = st["hw_prev"][rows], st["res_small"][rows], st["res_int"][rows]
        resolution = np.where(res_int & ~np.isnan(prev_y), np.minimum(res_small, 1.0), res_small)
        res_floor = np.where(resolution < math.inf, RESOLUTION_SCALE * resolution, 0.0)
        hw_floor = np.where(resolution < math.inf, self._res_scale * resolution, 0.0)
        sigma = np.maximum(
            np.maximum(np.sqrt(res_var), self._min_sigma + self._min_rel_sigma * np.abs(yhat)),
            hw_floor,
        )
        hw_ready = inited & (res_n >= p["warmup"]) & valid
        z = np.minimum(np.abs(y - yhat) / sigma, self._max_z)
        recent = st["hw_recent"][rows]
        clipped = np.minimum(z, p["recent_clip_sigmas"])
        recent_next = recent + p["short_rate"] * (clipped * clipped - recent)
        nu = (2.0 - p["short_rate"]) / p["short_rate"]
        threshold = p["tail_threshold"]
        zeta, t_mean, t_var = st["tail_zeta"][rows], st["tail_mean"][rows], st["tail_var"][rows]
        r_zeta, r_mean, r_var = (
            st["rtail_zeta"][rows],
            st["rtail_mean"][rows],
            st["rtail_var"][rows],
        )
        log_recent = np.log(_gammaincc(nu / 2.0, nu * recent_next / 2.0))
        if p["gpd_tail"]:
            log_point = _gpd_log_tail(z, threshold, zeta, t_mean, t_var)
            log_hw = np.minimum(log_point, _gpd_log_tail(-log_recent, 3.0, r_zeta, r_mean, r_var))
        else:
            log_hw = np.minimum(LN2 + _log_ndtr(-z), log_recent)
        stuck_run = st["stuck_run"][rows]
        repeats = ~np.isnan(prev_y) & (
            np.abs(y - prev_y) <= 1e-12 * np.maximum(np.abs(y), np.abs(prev_y))
        )
        stuck_log_q = st["stuck_log_q"][rows]
        short = np.minimum(stuck_run, LONG_RUN - 1)
        log_stuck = (
            stuck_log_q[:, 0] + short * stuck_log_q[:, 1] + (stuck_run - short) * stuck_log_q[:, 2]
        )
        log_hw = np.minimum(log_hw, np.where(repeats & (stuck_run < STUCK_MAX_RUN), log_stuck, 0.0))
        log_p = np.where(hw_ready, log_hw, 0.0)

        if p["hst"]:
            sc = st["sc"][rows]
            prev = st["prev"][rows]
            change = np.where(np.isnan(prev), 0.0, y - prev)
            u_v, v_mean, v_var = self._scale(y, sc[:, 0], sc[:, 1], sc[:, 2], res_floor)
            u_d, d_mean, d_var = self._scale(change, sc[:, 0], sc[:, 3], sc[:, 4], res_floor)
            hst_ready = st["hst_ready"][rows] & valid
            raw, leaves = self._walk(rows, u_d, u_v)
            cal_hst = st["cal_hst"][rows]
            log_tail, s_hst = self._log_tail(cal_hst, raw, HST_MIN_STD)
            hst_min_log_p = math.log(p["hst_min_p"]) if p["hst_min_p"] > 0.0 else -math.inf
            log_p = np.where(
                hst_ready, np.minimum(log_p, np.maximum(log_tail, hst_min_log_p)), log_p
            )

        log_p = np.minimum(0.0, math.log(self._views) + log_p)
        scores = np.where(valid, _score_from_log_tail(log_p), 0.0)
        forecasts = np.where(inited, yhat, np.nan)
        sigmas = np.where(inited, sigma, np.nan)
        if not learn:
            return scores, forecasts, sigmas
        held = None if hold is None else np.asarray(hold(scores, forecasts, sigmas), dtype=np.int64)
        saved = self.snapshot(rows[held]) if held is not None and len(held) else None

        # learn: the recent mean square and the residual tail (on the residuals of a ready forecaster)
        st["hw_recent"][rows] = np.where(hw_ready, recent_next, recent)
        if hw_ready.any():
            h = hw_ready
            tr_rows, rates = rows[h], (p["tail_rate"], p["exceed_rate"])
            st["tail_zeta"][tr_rows], st["tail_mean"][tr_rows], st["tail_var"][tr_rows] = (
                _gpd_update(
                    z[h], threshold, zeta[h], t_mean[h], t_var[h], *rates, self._tail_learn_p
                )
            )
            st["rtail_zeta"][tr_rows], st["rtail_mean"][tr_rows], st["rtail_var"][tr_rows] = (
                _gpd_update(
                    -log_recent[h],
                    3.0,
                    r_zeta[h],
                    r_mean[h],
                    r_var[h],
                    *rates,
                    self._recent_tail_learn_p,
                )
            )

        # Holt-Winters initialisation
        filling = ~inited & valid
        if filling.any():
            fr, fc, fy = rows[filling], count[filling], y[filling]
            if m:
                st["season"][fr, fc] = fy
            st["hw_sum"][fr] += fy
            st["hw_count"][fr] = fc + 1
            done = fr[fc + 1 == k]
            if len(done):
                first_level = st["hw_sum"][done] / k
                st["level"][done] = first_level
                st["trend"][done] = 0.0
                if m:
                    st["season"][done] -= first_level[:, None]
                    st["phase"][done] = 0

        # Holt-Winters update (missing values advance by the forecast)
        if inited.any():
            ir = rows[inited]
            yh, lv, tr, sg = yhat[inited], level[inited], trend[inited], sigma[inited]
            ok = valid[inited]
            rn, rv = res_n[inited], res_var[inited]
            bound = p["clip_sigmas"] * sg
            clipping = rn >= p["warmup"]
            yr = y[inited]
            yc = np.where(clipping, np.minimum(np.maximum(yr, yh - bound), yh + bound), yr)
            yc = np.where(ok, yc, yh)
            run = st["hw_run"][ir]
            up, down = yr > yh + bound, yr < yh - bound
            run_next = np.where(
                up, np.where(run > 0, run + 1, 1), np.where(down, np.where(run < 0, run - 1, -1), 0)
            )
            relevel = (
                ok & clipping & (p["relevel_after"] > 0) & (np.abs(run_next) >= p["relevel_after"])
            )
            st["hw_run"][ir] = np.where(ok & clipping, np.where(relevel, 0, run_next), run)
            r = yc - yh
            rate = np.maximum(p["residual_rate"], 1.0 / (rn + 1))
            if p["elevated_rate"] != 1.0:
                rate = np.where(log_p[inited] <= ELEVATED_LOG_P, rate * p["elevated_rate"], rate)
            st["res_var"][ir] = np.where(ok, rv + rate * (r * r - rv), rv)
            st["res_n"][ir] = rn + ok
            so = s_old[inited] if m else 0.0
            new_level = p["alpha"] * (yc - so) + (1 - p["alpha"]) * (lv + tr)
            if p["beta"]:
                st["trend"][ir] = p["beta"] * (new_level - lv) + (1 - p["beta"]) * tr
            st["level"][ir] = np.where(relevel, yr - so, new_level)
            if m:
                ph = phase[inited]
                st["season"][ir, ph] = p["gamma"] * (yc - lv - tr) + (1 - p["gamma"]) * so
                st["phase"][ir] = (ph + 1) % m

        if p["hst"]:
            st["cal_hst"][rows] = np.where(
                hst_ready[:, None], self._calibrate(cal_hst, s_hst, HST_MIN_STD), cal_hst
            )
            lr = rows[valid]
            if len(lr):
                st["sc"][lr] = np.stack(
                    [sc[valid, 0] + 1, v_mean[valid], v_var[valid], d_mean[valid], d_var[valid]],
                    axis=1,
                )
                st["prev"][lr] = y[valid]
                position = st["hst_count"][lr]
                st["hst_leaf"][lr, position] = leaves[valid]
                position = position + 1
                pivot = position == p["window_size"]
                st["hst_count"][lr] = np.where(pivot, 0, position)
                if pivot.any():
                    self._pivot(lr[pivot])

        # the stuck view, and the resolution, last (every part above used the one before this point)
        if valid.any():
            vr, vy, vp, vs = rows[valid], y[valid], prev_y[valid], res_small[valid]
            rep, run = repeats[valid], stuck_run[valid]
            seen = np.stack([np.ones(len(vr)), run > 0, run >= LONG_RUN - 1], axis=1)
            keep = 1.0 - STUCK_RATE
            n_next = keep * st["stuck_n"][vr] + seen
            r_next = keep * st["stuck_r"][vr] + seen * rep[:, None]
            st["stuck_n"][vr], st["stuck_r"][vr] = n_next, r_next
            steps = st["stuck_steps"][vr] + 1
            st["stuck_steps"][vr] = steps
            fresh = ~rep & (steps >= self._stuck_warmup)
            st["stuck_log_q"][vr] = np.where(
                fresh[:, None], np.log((r_next + 1.0) / (n_next + 2.0)), stuck_log_q[valid]
            )
            st["stuck_run"][vr] = np.where(rep, run + 1, 0)
            step = np.abs(vy - vp)
            counts = ~np.isnan(vp) & ~rep & (step < vs)  # a change beyond 1e-12 of the values
            st["res_small"][vr] = np.where(counts, step, vs)
            st["res_int"][vr] = res_int[valid] & (np.floor(vy) == vy)
            st["hw_prev"][vr] = vy
        if saved is not None:
            self.restore(rows[held], saved)
        return scores, forecasts, sigmas

    def _walk(
        self, rows: np.ndarray, u_d: np.ndarray, u_v: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """river's ``score_one`` for each row, and the leaf each tree sends the point to (for learning).

        Learning is deferred: river adds 1 to ``l_mass`` on every node of the
        path, and reads ``l_mass`` only when the window pivots (``r_mass =
        l_mass``; its missing-feature branch never runs, as both features are
        always present). So each point's leaves are buffered and the masses
        rebuilt from them at the pivot (:meth:`_pivot`), which gives the same
        ``r_mass`` with one write per tree instead of ``height + 1``.
        """
        p = self.params
        n_trees, height, nodes = p["n_trees"], p["height"], self._nodes
        shape = (len(rows), n_trees)
        tree_base = np.arange(n_trees, dtype=np.int64) * nodes
        base = rows[:, None] * (n_trees * nodes) + tree_base
        node = np.zeros(shape, dtype=np.int64)
        r_masses = self._state["hst_r"].reshape(-1)
        size_limit = 0.1 * p["window_size"]
        total = np.zeros(shape, dtype=np.int64)
        alive = np.ones(shape, dtype=bool)
        ud = np.broadcast_to(u_d[:, None], shape)
        uv = np.broadcast_to(u_v[:, None], shape)
        for depth in range(height + 1):
            r = r_masses.take(base + node).astype(np.int64)
            if depth < height:
                enough = r >= size_limit
            r *= alive
            r <<= depth
            total += r
            if depth < height:
                alive &= enough
                at = tree_base + node
                on_v = self._on_v.take(at)
                threshold = self._thr.take(at)
                right = ((uv >= threshold) & on_v) | ((ud >= threshold) & ~on_v)
                node *= 2
                node += 1
                node += right
        max_score = n_trees * p["window_size"] * (2 ** (height + 1) - 1)
        leaves = (node - (2**height - 1)).astype(self._leaf_dtype)
        return 1 - total.sum(axis=1).astype(np.float64) / max_score, leaves

    def _pivot(self, rows: np.ndarray) -> None:
        """End of a window: ``r_mass`` of every node = points of the window that passed through it."""
        p = self.params
        n_trees, height = p["n_trees"], p["height"]
        n_leaves = 2**height
        leaves = self._state["hst_leaf"][rows].astype(np.int64)  # (rows, window, trees)
        cell = (
            np.arange(len(rows))[:, None, None] * n_trees + np.arange(n_trees)[None, None, :]
        ) * n_leaves
        counts = np.bincount((cell + leaves).reshape(-1), minlength=len(rows) * n_trees * n_leaves)
        counts = counts.reshape(len(rows), n_trees, n_leaves)
        masses = np.empty((len(rows), n_trees, self._nodes), dtype=np.int64)
        for depth in range(height, -1, -1):
            masses[:, :, 2**depth - 1 : 2 ** (depth + 1) - 1] = counts
            counts = counts[:, :, 0::2] + counts[:, :, 1::2]
        self._state["hst_r"][rows] = masses
        self._state["hst_ready"][rows] = True


class FastDetector(Detector):
    """One series of :class:`FastCombined`, behind the detector protocol (for the conformance suite).

    Slow per point (numpy overhead); use :class:`FastCombined` for many series.

    >>> detector = FastDetector(hst=False)
    >>> for y in [5.0, 5.2, 4.9, 5.1] * 20:
    ...     detector.learn_one(y)
    >>> detector.score_one(5.0) < 0.3 < 0.5 < detector.score_one(50.0)
    True
    """

    def __init__(self, **params: Any) -> None:
        self._params = params
        self._bank = FastCombined(capacity=1, **params)
        self._slot = self._bank.slots([0])

    @classmethod
    def _unit_test_params(cls):
        yield from CombinedDetector._unit_test_params()

    def _get_params(self) -> dict[str, Any]:
        return dict(self._params)

    def score_one(self, x: float | None) -> float:
        return float(self._bank.score_learn_slots(self._slot, [clean(x)], learn=False).scores[0])

    def learn_one(self, x: float | None) -> None:
        self._bank.score_learn_slots(self._slot, [clean(x)], learn=True)
