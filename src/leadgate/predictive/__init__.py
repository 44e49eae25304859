"""Predictive scoring: learn from outcomes, calibrate, explain, and turn models into points."""

from __future__ import annotations

import os

# LightGBM's OpenMP threads spin while they wait by default; on a shared 2-core
# machine (a server, CI, a laptop running other work) that makes training 4-10x
# slower whenever anything else runs. Sleeping threads cost nothing measurable
# when the machine is idle. Set before lightgbm (or scikit-learn) loads OpenMP;
# an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__: list[str] = []
