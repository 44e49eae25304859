"""Rescoring the operational database through the compiled query, with a diff first."""

from __future__ import annotations

from leadgate.rescoring.service import LeadChange, RescorePlan, apply_plan, plan_rescore

__all__ = ["LeadChange", "RescorePlan", "apply_plan", "plan_rescore"]
