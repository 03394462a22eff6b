"""Entry point for uvicorn workers: `uvicorn --factory antechamber.asgi:app_factory`."""

from __future__ import annotations

from fastapi import FastAPI

from antechamber import logs
from antechamber.app import create_app
from antechamber.settings import load_settings


def app_factory() -> FastAPI:
    settings = load_settings()
    logs.configure(settings.log_level, settings.effective_log_format)
    return create_app(settings)
