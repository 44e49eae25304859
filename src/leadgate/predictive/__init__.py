"""Predictive scoring: learn from outcomes, calibrate, explain, and turn models into points."""
