"""Scalars that refuse, as the caller's error, input our services cannot compute with."""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Callable
from typing import Any

from graphql import FloatValueNode, IntValueNode, ValueNode, value_from_ast_untyped
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


def _parse_finite_decimal_literal(
    node: ValueNode, variables: dict[str, Any] | None = None
) -> object:
    # A number written in the query is read from its text, exactly. By default it went
    # through a float first: 0.99999999999999999999 became a price of 1.00, and a
    # 5,000-digit fraction was rounded rather than refused.
    if isinstance(node, IntValueNode | FloatValueNode):
        return _parse_finite_decimal(node.value)
    return _parse_finite_decimal(value_from_ast_untyped(node, variables))


# Same name and description, so the exported schema does not change.
FiniteDecimal: ScalarDefinition = dataclasses.replace(
    DecimalDefinition,
    parse_value=_parse_finite_decimal,
    parse_literal=_parse_finite_decimal_literal,
)
