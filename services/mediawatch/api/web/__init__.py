"""The analysts' web workspace, served by the API service under ``/``."""

from mediawatch.api.web.pages import CONTENT_SECURITY_POLICY, Workspace, add_workspace

__all__ = ["CONTENT_SECURITY_POLICY", "Workspace", "add_workspace"]
