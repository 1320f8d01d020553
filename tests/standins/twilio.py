"""A stand-in for Twilio's REST API (`Messages.json`, `Calls.json`) that checks requests as
Twilio does: HTTP basic auth with the account sid and auth token, the account in the path,
form-encoded fields, E.164 numbers, `Body` for messages and `Url` for calls (and, as pager
requires, a `StatusCallback`). It answers 201 with a `sid`, and errors the Twilio way:
`{"code", "message", "more_info", "status"}` with 20003 (auth), 21211 (invalid To), 21614
(not a mobile number), 21610 (unsubscribed), 20429 (too many requests)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from itertools import count
from urllib.parse import parse_qsl

from .asgi import Fault, Request, Response, StandIn

__all__ = ["TwilioCall", "TwilioSms", "TwilioStandIn", "twilio_error"]

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_PATH = re.compile(r"/2010-04-01/Accounts/(?P<sid>[^/]+)/(?P<what>Messages|Calls)\.json")


def twilio_error(status: int, code: int, message: str, retry_after: int | None = None) -> Fault:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Fault(status=status, body=_err_body(status, code, message), headers=headers)


def _err_body(status: int, code: int, message: str) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


@dataclass
class TwilioSms:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str
    at: float


@dataclass
class TwilioCall:
    sid: str
    to: str
    from_: str
    url: str
    method: str
    status_callback: str
    status_events: list[str]
    machine_detection: str | None
    at: float


class TwilioStandIn(StandIn):
    def __init__(self, account_sid: str, auth_token: str, from_number: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.landlines: set[str] = set()
        self.unsubscribed: set[str] = set()
        self.sms: list[TwilioSms] = []
        self.calls: list[TwilioCall] = []
        self._n = count(1)

    def _error(self, status: int, code: int, message: str) -> Response:
        return Response(status, _err_body(status, code, message))

    def _authorized(self, req: Request, sid: str) -> bool:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid == sid and password == self.auth_token

    async def handle(self, req: Request) -> Response:
        m = _PATH.fullmatch(req.path)
        if m is None or req.method != "POST":
            return self._error(404, 20404, "The requested resource was not found")
        if not self._authorized(req, m["sid"]):
            return self._error(401, 20003, "Authenticate")
        if not req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self._error(400, 21100, "Accepts form-encoded parameters only")
        form = req.form()
        to, from_ = form.get("To", ""), form.get("From", "")
        if not E164.fullmatch(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if from_ != self.from_number:
            return self._error(400, 21606, f"The From phone number {from_} is not yours.")
        callback = form.get("StatusCallback", "")
        if not callback.startswith(("http://", "https://")):
            return self._error(400, 21609, "StatusCallback is missing or not a URL (pager sets it)")
        n = next(self._n)
        if m["what"] == "Messages":
            body = form.get("Body", "")
            if not body:
                return self._error(400, 21602, "Message body is required.")
            if len(body) > 1600:
                return self._error(400, 21617, "The concatenated message body exceeds 1600.")
            if to in self.landlines:
                return self._error(400, 21614, f"'To' number {to} is not a valid mobile number")
            if to in self.unsubscribed:
                return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
            sms = TwilioSms(f"SM{n:032x}", to, from_, body, callback, req.at)
            self.sms.append(sms)
            return Response(
                201,
                {
                    "sid": sms.sid,
                    "status": "queued",
                    "to": to,
                    "from": from_,
                    "body": body,
                    "num_segments": "1",
                },
            )
        url = form.get("Url", "")
        if not url.startswith(("http://", "https://")):
            return self._error(400, 21205, "Url is not a valid URL.")
        events = [v for k, v in _pairs(req.body) if k == "StatusCallbackEvent"]
        call = TwilioCall(
            f"CA{n:032x}",
            to,
            from_,
            url,
            form.get("Method", "POST"),
            callback,
            events,
            form.get("MachineDetection"),
            req.at,
        )
        self.calls.append(call)
        return Response(201, {"sid": call.sid, "status": "queued", "to": to, "from": from_})


def _pairs(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(body.decode(), keep_blank_values=True)
