"""An incident's short code: three base-32 digits of its scrambled number, most significant
first. Computed by shifts; this holds it to the digit-by-digit definition."""

from __future__ import annotations

from pager.core.model import SHORT_CODE_ALPHABET, short_code


def by_digits(number: int) -> str:
    n = (number * 7919 + 12345) % len(SHORT_CODE_ALPHABET) ** 3
    out = []
    for _ in range(3):
        n, r = divmod(n, len(SHORT_CODE_ALPHABET))
        out.append(SHORT_CODE_ALPHABET[r])
    return "".join(reversed(out))


def test_short_codes_are_the_base_32_digits() -> None:
    for number in [*range(70_000), 10**9 + 7, 2**40]:
        assert short_code(number) == by_digits(number), number
    assert short_code(1) == by_digits(1) and len({short_code(n) for n in range(32_768)}) == 32_768
