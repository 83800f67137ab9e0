"""Per-row state kept as one numpy array per field, grown by copying: the detector bank's and the season finder's.

A field is ``name -> (dtype, shape of one row, initial value)``. ``grown_rows``
returns the arrays with room for ``capacity`` rows, the old rows copied and
the new ones initial; ``reset_rows`` puts rows back to their initial values.

>>> fields = {"level": (np.dtype(np.float64), (), 0.0), "window": (np.dtype(np.int8), (3,), 1)}
>>> rows = grown_rows({}, fields, 2)
>>> rows["level"][1] = 5.0
>>> rows = grown_rows(rows, fields, 4)
>>> rows["level"].tolist(), rows["window"].shape
([0.0, 5.0, 0.0, 0.0], (4, 3))
>>> reset_rows(rows, fields, [1]); rows["level"].tolist()
[0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["Fields", "grown_rows", "reset_rows"]

Fields = Mapping[str, tuple[np.dtype, tuple[int, ...], object]]


def grown_rows(
    rows: Mapping[str, np.ndarray], fields: Fields, capacity: int
) -> dict[str, np.ndarray]:
    """``rows`` (``{}`` for none yet) with room for ``capacity`` rows; new rows hold their fields' initial values."""
    state = {}
    for name, (dtype, shape, initial) in fields.items():
        array = np.full((capacity, *shape), initial, dtype=dtype)
        if rows:
            array[: len(rows[name])] = rows[name]
        state[name] = array
    return state


def reset_rows(
    rows: Mapping[str, np.ndarray], fields: Fields, index: Sequence[int] | np.ndarray
) -> None:
    """Put rows ``index`` back to their fields' initial values."""
    for name, (_dtype, _shape, initial) in fields.items():
        rows[name][index] = initial
