"""Antechamber: a self-hosted B2B authentication server that speaks the Stytch B2B API."""

__version__ = "0.1.0"
