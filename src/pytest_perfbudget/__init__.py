"""pytest-perfbudget: performance budgets for pytest tests."""

from __future__ import annotations

from .budget import Budget, Limit, PerfBudgetWarning
from .measure import Measurement
from .meter import PerfMeter

__all__ = ["Budget", "Limit", "Measurement", "PerfBudgetWarning", "PerfMeter", "__version__"]

__version__ = "0.1.0"
