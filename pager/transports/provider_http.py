"""What the HTTP transports (Slack, Twilio, Teams, webhooks) share: one `httpx.AsyncClient`
per provider built the same way (base URL from the configuration, the channel's timeout, an
optional `httpx.AsyncBaseTransport` so tests can route provider calls in-process), network
errors turned into `ProviderUnreachable`, and Retry-After read from a 429 or 503.

The text of a refusal (`http_status_error`), and of a request that got no answer, may quote
the provider's words; the credentials the request's URL carries (a Teams workflow's `sig`,
a receiver's `?token=`, a password before the host, a Slack or legacy Teams webhook's secret
path) are taken out of it first, since the error is journaled, logged and shown.

Redirects are not followed: a provider API that redirects is misconfigured, and a webhook
receiver that redirects should be given its final URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from pager.core.redaction import without_secrets

from .base import DeliveryError, ProviderRejected, ProviderUnreachable

__all__ = [
    "USER_AGENT",
    "http_status_error",
    "make_client",
    "request",
    "retry_after",
    "without_credentials",
]

USER_AGENT = "pager/0.1"
DETAIL_CHARS = 200  # what of a provider's answer an error quotes
DEFAULT_RETRY_AFTER = 1.0  # a 429 without Retry-After: wait at least this long
_READ = httpx.ByteStream(b"")  # what a response's stream becomes once its body is read


def make_client(
    *,
    timeout: float,
    http: httpx.AsyncBaseTransport | None = None,
    base_url: str = "",
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        auth=auth,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=httpx.Timeout(timeout),
        transport=http,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
    )


async def request(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One request; every way of getting no answer is a `ProviderUnreachable`. A `json=`
    body is encoded with orjson (httpx would use the standard library's encoder)."""
    if "json" in kwargs:
        kwargs["content"] = orjson.dumps(kwargs.pop("json"))
        headers = dict(kwargs.get("headers") or {})
        headers.setdefault("content-type", "application/json")
        kwargs["headers"] = headers
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as e:
        raise ProviderUnreachable(f"no answer in time ({type(e).__name__})") from e
    except httpx.ConnectError as e:
        raise ProviderUnreachable(_quoted(f"cannot connect: {e}", client, url)) from e
    except httpx.HTTPError as e:  # dropped connection, protocol errors
        raise ProviderUnreachable(_quoted(f"{type(e).__name__}: {e}", client, url)) from e
    # httpx leaves a response and its stream in a reference cycle (the stream keeps the
    # response), so each request's ~40 objects waited for the cyclic garbage collector,
    # whose pauses showed in the p99 of pages (scripts/bench notify). The body is read and
    # the stream closed by now: replacing the stream lets reference counting free them.
    response.stream = _READ
    return response


def _quoted(text: str, client: httpx.AsyncClient, url: str) -> str:
    """An error's text without the credentials of the URL it was about (some name it)."""
    return without_credentials(without_credentials(text, url), client.base_url)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), else None."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def without_credentials(text: str, url: httpx.URL | str) -> str:
    """`text` without what of `url` may be a credential: its password, the values of its
    query and the segments of its path that may be secrets (`pager.core.redaction`), as
    they are and percent-encoded, each replaced by `…`."""
    return without_secrets(text, str(url))


def http_status_error(response: httpx.Response, what: str, detail: str = "") -> DeliveryError:
    """The usual meaning of a non-2xx answer: 429 is retried after its Retry-After, 408 and
    5xx are the provider being unavailable, any other 4xx is a request it will never take.
    `detail` (the provider's words) is quoted without the request URL's credentials, then
    cut to `DETAIL_CHARS` (cut first, a secret could be cut in two and no longer found)."""
    status = response.status_code
    if detail:
        detail = without_credentials(detail, response.request.url)[:DETAIL_CHARS]
    text = f"{what} answered {status}" + (f": {detail}" if detail else "")
    if status == 429:
        return ProviderRejected(text, retry_after=retry_after(response) or DEFAULT_RETRY_AFTER)
    if status == 408 or status >= 500:
        return ProviderUnreachable(text, retry_after=retry_after(response))
    return ProviderRejected(text, permanent=True)
