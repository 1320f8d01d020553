"""Stand-in providers for the delivery tests: Slack, Twilio, Teams and webhook receivers as
small ASGI apps that check requests the way the provider does (served over real HTTP or
in-process), and a real SMTP server (aiosmtpd)."""
