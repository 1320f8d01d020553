"""Transport tests: each transport against its stand-in over real HTTP on 127.0.0.1 (or a
real SMTP server), on the real clock, each under an absolute `trio.fail_after`. Timeouts
are short (a few hundred milliseconds) so the failure cases stay fast."""
