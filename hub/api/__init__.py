"""The member REST API (/api/v1): uploads of bundles and indicator lists, and their status."""

from hub.api.views import bp

__all__ = ["bp"]
