"""Anonymous introspection as a setting (issue 9 §7, ``POSCRM_PUBLIC_INTROSPECTION``).

On for the embedded single-shop default, so GraphiQL autocompletes before anyone logs
in; off for a chain, whose API faces many networks: there the schema (every operation,
argument and enum) is shown only to a caller with a valid token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import BREAK, DocumentNode, FieldNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from app.schema.errors import ClientError

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class _FindsIntrospection(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if node.name.value in INTROSPECTION_FIELDS:
            self.found = True
            return BREAK
        return None


def asks_for_the_schema(document: DocumentNode) -> bool:
    """Whether any operation or fragment selects ``__schema`` or ``__type`` (``__typename``
    is no introspection of the schema: clients ask it with every union)."""
    finder = _FindsIntrospection()
    visit(document, finder)
    return finder.found


class IntrospectionNeedsLogin(SchemaExtension):
    """Refuses ``__schema``/``__type`` to anonymous callers before execution.

    Listed after ValidationCache, like PageSizeLimit: it sets the operation's errors, so
    a refused query runs nothing. Authenticated callers (any role) may still introspect.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        anonymous = getattr(context.context, "actor", None) is None
        if (
            anonymous
            and document is not None
            and not context.pre_execution_errors
            and asks_for_the_schema(document)
        ):
            context.pre_execution_errors = [
                ClientError(
                    "Introspection needs a login here (POSCRM_PUBLIC_INTROSPECTION is off): "
                    "send Authorization: Bearer <token>.",
                    "UNAUTHENTICATED",
                )
            ]
        yield
