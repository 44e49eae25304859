"""leadgate: an open-source lead-qualification engine.

Score fit and engagement with a model marketing and sales can read, decide who
is a Marketing Qualified Lead, and explain every score.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
