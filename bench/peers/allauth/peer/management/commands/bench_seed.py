"""Create the benchmark's users in bulk: verified email, unusable password, TOTP for odd ones.

User i: `user{i}@peer.example.com`. Odd users have a TOTP authenticator whose secret is derived
from i (bench.peers.allauth_flows.totp_secret computes the same), so the driver can compute
codes without reading the database.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

BATCH = 5000


def totp_secret(i: int) -> str:
    seed = hashlib.sha1(f"bench-totp-{i}".encode(), usedforsecurity=False).digest()
    return base64.b32encode(seed).decode()


class Command(BaseCommand):
    help = "Create N benchmark users (odd ones with TOTP)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, required=True, help="How many users.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        unusable = make_password(None)  # login by code only; no password hashing cost
        total = options["users"]
        for start in range(0, total, BATCH):
            ids = range(start, min(total, start + BATCH))
            with transaction.atomic():
                users = user_model.objects.bulk_create(
                    [
                        user_model(
                            username=f"user{i}",
                            email=f"user{i}@peer.example.com",
                            password=unusable,
                        )
                        for i in ids
                    ]
                )
                EmailAddress.objects.bulk_create(
                    [
                        EmailAddress(user=u, email=u.email, verified=True, primary=True)
                        for u in users
                    ]
                )
                Authenticator.objects.bulk_create(
                    [
                        Authenticator(
                            user=u,
                            type=Authenticator.Type.TOTP,
                            data={"secret": totp_secret(i)},
                        )
                        for i, u in zip(ids, users, strict=True)
                        if i % 2 == 1
                    ]
                )
        self.stdout.write(f"seeded {total} users")
