"""Entry point for uvicorn workers: `uvicorn --factory antechamber.asgi:app_factory`."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from antechamber import logs
from antechamber.app import create_app
from antechamber.settings import load_settings


def app_factory() -> FastAPI:
    settings = load_settings()
    logs.configure(settings.log_level, settings.effective_log_format)
    app = create_app(settings)
    # What startup built (modules, routes, schemas: ~240,000 objects) lives as long as the
    # process: moved out of the collector's sight, a full collection no longer walks it (one
    # took 0.6-1.1 s of wall time on a loaded machine, which would be a request's p99).
    gc.collect()
    gc.freeze()
    return app
