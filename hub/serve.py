"""Run the hub under gunicorn; each worker process builds its own app with create_app()."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from hub.config import Settings


class _HubServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        server = self.settings.server
        values: dict[str, Any] = {
            "bind": f"{server.host}:{server.port}",
            "workers": server.workers,
            "threads": server.threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "errorlog": "-",
            "timeout": 120,
            "graceful_timeout": 30,
            "proc_name": "hub",
        }
        # gunicorn 25+ opens a control socket in the user's home; several hubs on one machine
        # would fight over it, and nothing here uses it.
        if "control_socket_disable" in self.cfg.settings:
            values["control_socket_disable"] = True
        for name, value in values.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from hub.app import create_app

        return create_app(self.settings)


def run(settings: Settings) -> None:
    _HubServer(settings).run()
