"""Settings, from the environment the bench command sets (BENCH_PEER_*)."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("BENCH_PEER_SECRET_KEY", "bench-peer-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.headless",
    "peer",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "peer.urls"
WSGI_APPLICATION = "peer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # peer/templates first: it overrides the login-code email with a one-line body.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]


def _database() -> dict[str, object]:
    url = os.environ.get("BENCH_PEER_DATABASE", "sqlite:///" + str(BASE_DIR / "peer.sqlite3"))
    if url.startswith("sqlite:///"):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": url.removeprefix("sqlite:///"),
            # The same SQLite setup as Antechamber's (WAL, synchronous=NORMAL, a busy timeout,
            # write transactions that take the lock up front), so the two compare fairly.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Persistent connections, as Antechamber's pool keeps them (Django's default, 0,
            # opens and sets up a connection for every request).
            "CONN_MAX_AGE": 600,
        }
    # postgresql://user@host:port/name
    rest = url.split("://", 1)[1]
    creds, _, hostpart = rest.rpartition("@")
    user, _, password = creds.partition(":")
    hostport, _, name = hostpart.partition("/")
    host, _, port = hostport.partition(":")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": user or "postgres",
        "PASSWORD": password,
        "HOST": host,
        "PORT": port or "5432",
        "CONN_MAX_AGE": 600,  # persistent connections, as Antechamber's pool keeps them
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# Off for the benchmark, as a load test from one address would otherwise be throttled; the
# Antechamber side runs with its benchmark settings too.
ACCOUNT_RATE_LIMITS = False
MFA_SUPPORTED_TYPES = ["totp"]
# Accept the previous and next 30 s period as well (allauth's default is 0): under load a
# request can cross a period boundary between the app computing the code and the server
# checking it, and production setups commonly allow one step of drift for the same reason.
MFA_TOTP_TOLERANCE = 1

HEADLESS_ONLY = True
HEADLESS_CLIENTS = ("app",)
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": "http://127.0.0.1/account/verify-email/{key}",
    "account_reset_password_from_key": "http://127.0.0.1/account/password/reset/key/{key}",
    "account_signup": "http://127.0.0.1/account/signup",
}

EMAIL_BACKEND = "peer.mail.RecipientFileBackend"
BENCH_MAILDIR = os.environ.get("BENCH_PEER_MAILDIR", str(BASE_DIR / "mail"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
