"""SMS through Twilio's Messages API.

`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth with the account
SID and auth token (or an API key SID and secret), form fields `To`, `From` or
`MessagingServiceSid`, and `Body`. Twilio answers 201 with the message's `sid`, or an error
`{"code": 21211, "message": "…", "more_info": "…", "status": 400}`.

4xx is permanent (a bad or unsubscribed number, a refused sender), except 429 (Twilio's rate
limit), which is retried with 5xx and network errors.
"""

from __future__ import annotations

from typing import Any

import httpx

from antechamber.delivery.transport import PermanentFailure, TransientFailure
from antechamber.settings import Settings


class TwilioSms:
    name = "twilio"

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        sid = settings.twilio_account_sid
        if not sid:
            raise ValueError("Twilio is not configured (ANTECHAMBER_TWILIO_ACCOUNT_SID)")
        if settings.twilio_api_key_sid and settings.twilio_api_key_secret is not None:
            auth = (settings.twilio_api_key_sid, settings.twilio_api_key_secret.get_secret_value())
        elif settings.twilio_auth_token is not None:
            auth = (sid, settings.twilio_auth_token.get_secret_value())
        else:  # settings validation makes this unreachable
            raise ValueError("Twilio credentials are missing")
        self.path = f"/2010-04-01/Accounts/{sid}/Messages.json"
        self.sender: dict[str, str] = (
            {"MessagingServiceSid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"From": settings.twilio_from_number or ""}
        )
        self._auth = auth
        self._settings = settings
        self._transport = transport
        self._client: httpx.Client | None = None

    def send_sms(self, to: str, body: str) -> str:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self._settings.twilio_base_url,
                auth=self._auth,
                # Connect, write and read each get a third: the whole request stays within
                # the send timeout the worker plans its claim with.
                timeout=self._settings.delivery_send_timeout_seconds / 3,
                transport=self._transport,
                headers={"Accept": "application/json"},
            )
        try:
            response = self._client.post(self.path, data={"To": to, **self.sender, "Body": body})
        except httpx.HTTPError as exc:
            raise TransientFailure(f"twilio unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code in (200, 201):
            sid = _json(response).get("sid")
            return str(sid) if sid else ""
        error = _json(response)
        text = f"twilio {response.status_code}"
        if error.get("code"):
            text += f" (error {error['code']})"
        if error.get("message"):
            text += f": {error['message']}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientFailure(text)
        raise PermanentFailure(text)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
