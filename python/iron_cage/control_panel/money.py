"""Money at the Control Panel's boundary: the API speaks USD (``Decimal`` in, ``float`` out), the
database integer micro-USD (docs/decisions/0002-money-and-rounding.md).

Pure Python: imported by the wire schemas (and so by ``iron_cage.client``) as well as the server.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

# The largest amount any one request or allocation names.
MAX_USD = Decimal(1_000_000_000)


def micros(usd_: Decimal) -> int:
    """USD to integer micro-USD, rounded half to even (inputs have at most 6 decimals)."""
    return int((usd_ * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def usd(micros_: int) -> float:
    """Integer micro-USD to USD, for answers."""
    return micros_ / 1_000_000


MAX_MICROS = micros(MAX_USD)
