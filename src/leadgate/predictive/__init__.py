"""Predictive scoring: learn from outcomes, calibrate, explain, and turn models into points.

Importing this package changes nothing in the process. LightGBM's OpenMP threads
spin while they wait unless ``OMP_WAIT_POLICY=PASSIVE`` is set before it loads;
on a shared 2-core machine that makes training 4-10x slower whenever anything
else runs, so the ``leadgate`` command (and the test suite) set it at start.
"""

from __future__ import annotations

__all__: list[str] = []
