"""People who use the web app: users, roles, passwords and sign-in sessions."""

from leadgate.users.models import User, WebSession
from leadgate.users.service import ROLES, Role, Viewer

__all__ = ["ROLES", "Role", "User", "Viewer", "WebSession"]
