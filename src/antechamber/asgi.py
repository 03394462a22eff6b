"""Entry point for uvicorn workers: `uvicorn --factory antechamber.asgi:app_factory`."""

from __future__ import annotations

from fastapi import FastAPI

from antechamber.app import create_app
from antechamber.settings import load_settings


def app_factory() -> FastAPI:
    return create_app(load_settings())
