"""Scalars that refuse, as the caller's error, input our services cannot compute with."""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Callable

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DecimalDefinition
from strawberry.types.scalar import ScalarDefinition

# Far beyond any price, amount or percent, far inside decimal's default context: a
# value such as 9e999999999 would overflow in normalize() (request hashing) and in
# arithmetic before any range check could refuse it.
MAX_DECIMAL_EXPONENT = 64


def _strawberry_parser() -> Callable[[object], object]:
    parser = DecimalDefinition.parse_value
    assert parser is not None  # Strawberry's Decimal always has one
    return parser


_parse_decimal = _strawberry_parser()


def _parse_finite_decimal(value: object) -> object:
    parsed = _parse_decimal(value)
    assert isinstance(parsed, decimal.Decimal)
    exponent = parsed.as_tuple().exponent
    if (
        not parsed.is_finite()
        or not isinstance(exponent, int)
        or exponent < -MAX_DECIMAL_EXPONENT
        or parsed.adjusted() > MAX_DECIMAL_EXPONENT
    ):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{value}". Expected a finite number'
            f" with an exponent within ±{MAX_DECIMAL_EXPONENT}."
        )
    return parsed


# Same name and description, so the exported schema does not change.
FiniteDecimal: ScalarDefinition = dataclasses.replace(
    DecimalDefinition, parse_value=_parse_finite_decimal
)
