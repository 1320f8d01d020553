"""What of a URL or a contact address pager shows (pager.core.redaction): the secrets of
webhook URLs out of everything shown, and contact addresses out of what is shown below
admin."""

from __future__ import annotations

import pytest

from pager.core.redaction import shown_url, url_secrets, without_address, without_secrets

SLACK = "https://hooks.slack.com/services/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"
SLACK_PLACEHOLDER = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
LEGACY_TEAMS = (
    "https://contoso.webhook.office.com/webhookb2/11111111-2222-3333-4444-555555555555"
    "@66666666-7777-8888-9999-000000000000/IncomingWebhook/0123456789abcdef0123456789abcdef"
    "/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)
WORKFLOW = (
    "https://prod-01.westus.logic.azure.com:443/workflows/0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    "/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun"
    "&sv=1.0&sig=S1GNATURE-abc"
)


@pytest.mark.parametrize(
    ("url", "secrets", "shown"),
    [
        (SLACK, ["q1w2e3r4t5y6u7i8o9p0a1s2", "T0123ABCD", "B0456EFGH"],
         "https://hooks.slack.com/services/…/…/…"),
        (SLACK_PLACEHOLDER, ["XXXXXXXXXXXXXXXXXXXXXXXX"],
         "https://hooks.slack.com/services/…/…/…"),
        (LEGACY_TEAMS, ["0123456789abcdef0123456789abcdef", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
         "https://contoso.webhook.office.com/…/…/IncomingWebhook/…/…"),
        (WORKFLOW, ["S1GNATURE-abc", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"],
         "https://prod-01.westus.logic.azure.com:443/workflows/…/triggers/manual/paths/invoke"
         "?api-version=…&sp=…&sv=…&sig=…"),
        ("https://hook:PA55W0RD@hooks.example.com/alice?token=T0K3N#frag", ["PA55W0RD", "T0K3N"],
         "https://hook:…@hooks.example.com/alice?token=…#…"),
    ],
)  # fmt: skip
def test_a_url_is_shown_without_what_may_be_its_credentials(
    url: str, secrets: list[str], shown: str
) -> None:
    assert shown_url(url) == shown
    for secret in secrets:
        assert secret not in shown_url(url)
        assert secret in url_secrets(url)
        quoted = f"404 for {url} (path {url.split('/', 3)[3]})"
        assert secret not in without_secrets(quoted, url), quoted


def test_words_in_a_path_stay_so_the_url_still_says_where_it_points() -> None:
    assert shown_url("https://hooks.example.com/v2/alerts/alice") == (
        "https://hooks.example.com/v2/alerts/alice"
    )
    assert without_secrets(
        "no receiver at /v2/alerts/alice", "https://h.example/v2/alerts/alice"
    ) == ("no receiver at /v2/alerts/alice")


def test_a_percent_encoded_secret_is_found_in_either_spelling() -> None:
    url = "https://hooks.example.com/in/s%2Bcr3t%2Fvalue-0123456789?k=a%2Bb%2Fc"
    text = "no hook s+cr3t/value-0123456789 nor s%2Bcr3t%2Fvalue-0123456789; k=a+b/c"
    out = without_secrets(text, url)
    assert "cr3t" not in out and "a+b/c" not in out, out


def test_text_about_something_else_than_a_url_is_left_alone() -> None:
    text = "SMTP refused the recipient: 550 <alice@example.com>"
    assert without_secrets(text, "alice@example.com") == text
    assert without_secrets(text, None) == text


@pytest.mark.parametrize(
    ("text", "address", "gone"),
    [
        ("Twilio Messages answered 400 (error 21211): The 'To' number +15555550100 is not a "
         "valid phone number.", "+15555550100", ["5555550100"]),
        ("carrier says 15555550100 unreachable", "+15555550100", ["5555550100"]),
        ("SMTP refused the recipient: 550 5.1.1 <Alice@Example.COM>: Recipient address rejected",
         "alice@example.com", ["Alice@Example", "example.com"]),
        (f"the Teams workflow answered 404: no webhook at {LEGACY_TEAMS}", LEGACY_TEAMS,
         ["contoso", "IncomingWebhook", "0123456789abcdef"]),
        ("the Teams workflow answered 404: no webhook at /webhookb2/x (contoso.webhook.office.com)",
         LEGACY_TEAMS, ["contoso", "/webhookb2/x"]),
        # addresses pager does not know of (an old record, a bundle's): by their look
        ("quoted +44 20 7946 0958 and bob@example.org and https://x.example/h?sig=1",
         None, ["7946", "bob@", "x.example"]),
    ],
)  # fmt: skip
def test_below_admin_an_error_text_does_not_quote_the_address(
    text: str, address: str | None, gone: list[str]
) -> None:
    out = without_address(text, [address])
    for part in gone:
        assert part.lower() not in out.lower(), out
    assert "…" in out


def test_what_is_not_an_address_stays_readable() -> None:
    text = (
        "Twilio Calls answered 400 (error 21211): invalid; retrying at "
        "2026-12-08T00:29:05.448804+00:00 (SMTP 550 5.1.1)"
    )
    assert without_address(text, ["+15555550100"]) == text


def test_a_date_written_with_a_space_is_not_taken_for_a_phone_number() -> None:
    # a provider's own clock in its error text (`2026-12-08 01:23:45`): eight digits with
    # dashes and a space, which the phone number's pattern would take but for the date
    text = "SMTP 451 at 2026-12-08 01:23:45 UTC: try again; the To number +1 555 010 0199"
    assert (
        without_address(text) == "SMTP 451 at 2026-12-08 01:23:45 UTC: try again; the To number …"
    )
