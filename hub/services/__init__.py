"""Use cases that tie storage, auth and (later) sharing and the queue together.

Views and the CLI call these; nothing here knows about HTTP requests or terminals.
"""

from hub.services.context import Hub

__all__ = ["Hub"]
