"""Standalone feed connectors built on taxii2-client. They reach the hub only over HTTP."""
