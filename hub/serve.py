"""Run the hub under gunicorn; each worker process builds its own app with create_app()."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from hub.config import Settings

# prometheus_client decides at import whether metrics live in shared files: this module sets
# the variable before anything imports it (see prepare_metrics_dir).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
            # Requests are logged by the app (hub.access, JSON with the request id).
            "accesslog": None,
            "errorlog": "-",
            "child_exit": _child_exit,
            "worker_exit": _worker_exit,
            "timeout": 120,
            "graceful_timeout": 30,
            "keepalive": server.keepalive_seconds,
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


def _child_exit(server: Any, worker: Any) -> None:
    """A gunicorn worker ended: its live gauges leave the shared metrics directory."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _worker_exit(server: Any, worker: Any) -> None:
    """In a gunicorn worker that is ending: stop its pipeline thread (when it runs one), so the
    thread finishes its chunk and is recorded as stopped rather than going stale."""
    app = getattr(worker, "wsgi", None)
    pipeline = getattr(app, "extensions", {}).get("hub.worker")
    if pipeline is not None:
        pipeline.stop(timeout=10)


def prepare_metrics_dir(settings: Settings) -> Path:
    """A fresh directory where gunicorn's workers keep their metrics (one file per process),
    so /metrics adds them up whichever worker answers. One per port: two `hub serve` on one
    data directory (two ports) must not clear each other's files at start."""
    directory = settings.data_dir / "metrics" / f"port-{settings.server.port}"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def run(settings: Settings) -> None:
    prepare_metrics_dir(settings)
    from hub.observability import configure_logging

    observability = settings.observability
    configure_logging(observability.log_format, observability.log_level)
    _HubServer(settings).run()
