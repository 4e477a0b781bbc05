"""The TAXII 2.1 blueprint: thin views over hub.services."""

from hub.taxii.views import bp

__all__ = ["bp"]
