"""A minimal Django project: django-allauth's headless API with login by code and TOTP.

It is the side-by-side peer of `python -m bench`: the closest Python alternative a team would
pick, configured as its documentation recommends for production, with only what the benchmark
needs changed (rate limits off, as they are for Antechamber's benchmark database; emails to
files the driver reads, as Antechamber's go to its development outbox).
"""
