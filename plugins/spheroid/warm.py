"""Repeated exact evaluations at fixed frequencies, each frequency warm-started from the
evaluations before it (for fits: many nearby parameter sets on the same bins).

The slow part of one frequency of :func:`~.prolate.backscatter_amplitude` started cold is
finding the spheroidal eigenvalues lambda_mn(c); within one spectrum they are predicted from
the neighbouring frequencies. lambda_mn depends on c = k q only (q the half focal distance),
so at a fixed frequency the previous evaluations predict it as well, and better in a fit,
where c moves little from one evaluation to the next (not at all when only theta or the
density contrast moves). :class:`RepeatedSpectrum` keeps one warm-start state per frequency
across calls. Every predicted eigenvalue is checked by Sturm counts and found by bisection
when the prediction fails, so the values are those of a cold evaluation up to the
eigenvalues' rounding (relative differences ~1e-11).
"""

from __future__ import annotations

import numpy as np

from ts_toolkit.errors import InvalidParameterError
from ts_toolkit.signals import check_interrupt

from .prolate import BOUNDARIES


class RepeatedSpectrum:
    """f_bs of fluid/rigid/pressure-release prolate spheroids at the fixed ``frequency``
    (Hz), called once per parameter set; each frequency keeps its eigenvalue history."""

    def __init__(self, frequency: np.ndarray, boundary: str = "fluid") -> None:
        if boundary not in BOUNDARIES:
            raise InvalidParameterError(f"unknown boundary {boundary!r}")
        self.frequency = np.ascontiguousarray(frequency, dtype=float)
        self.boundary = BOUNDARIES[boundary]
        self._states: list[list[np.ndarray]] = [[] for _ in range(self.frequency.size)]
        #: evaluations made so far
        self.calls = 0

    def __call__(
        self,
        a: float,
        b: float,
        theta_deg: float,
        rho_s: float,
        c_s: float,
        rho_w: float,
        c_w: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(f_bs (m) complex, ok) at every frequency, as
        :func:`~.prolate.backscatter_amplitude` with the adaptive truncation."""
        from .solver import spectrum_block

        nf = self.frequency.size
        out = np.empty(nf, dtype=np.complex128)
        ok = np.ones(nf, dtype=np.bool_)
        args = (
            float(a), float(b), float(theta_deg), float(rho_s / rho_w), float(c_s / c_w),
            float(c_w), self.boundary, 0, 0, -1, -1,
        )  # fmt: skip
        if self.calls == 0:
            # first call: one spectrum, frequency after frequency (each predicted from the
            # one before); each frequency keeps a copy of the state it left
            from .solver import new_state

            state = list(new_state())
            for i in range(nf):
                check_interrupt()
                state[9], state[10], state[11] = spectrum_block(
                    self.frequency, i, i + 1, out, ok, *args, *state
                )
                self._states[i] = [np.copy(v) for v in state]
        else:
            for i, state in enumerate(self._states):
                check_interrupt()
                # one frequency per call: its own history (c of its earlier evaluations)
                state[9], state[10], state[11] = spectrum_block(
                    self.frequency, i, i + 1, out, ok, *args, *state
                )
        self.calls += 1
        return out, ok
