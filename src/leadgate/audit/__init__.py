"""The audit trail of actions that are not stage changes."""

from leadgate.audit.models import AuditEntry
from leadgate.audit.service import audit_dict, list_audit, record

__all__ = ["AuditEntry", "audit_dict", "list_audit", "record"]
