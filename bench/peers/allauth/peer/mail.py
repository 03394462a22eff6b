"""An email backend that keeps the newest message of each recipient in a file named after it.

The driver reads the login code from there, as it reads Antechamber's codes from the
development outbox: one cheap lookup by recipient.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class RecipientFileBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = Path(settings.BENCH_MAILDIR)
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            for recipient in message.to:
                tmp = folder / f".{recipient}.{os.getpid()}.tmp"
                tmp.write_text(str(message.body))
                os.replace(tmp, folder / recipient)  # atomic: a reader never sees half a file
        return len(email_messages)
