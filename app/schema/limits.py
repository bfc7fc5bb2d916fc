"""Limits enforced before any resolver runs, the error mask, and how GraphQL errors are logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    Visitor,
    get_operation_ast,
    value_from_ast_untyped,
    visit,
)
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from app.domain.errors import ErrorCode, InvalidCursor, StatementTimeout
from app.schema.errors import ClientError

log = logging.getLogger(__name__)


def whole_number(value: Any) -> int | None:
    """An Int argument's value as execution will take it, or None if it is not one.

    GraphQL's Int takes 100.0 (a JSON number with a fraction part) as 100, so a float
    must not slip past a limit as "not a number".
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _variable_defaults(document: DocumentNode, operation_name: str | None) -> dict[str, Any]:
    # The operation that will run; without one, execution fails before any resolver.
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return {}
    return {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }


class _PageSizes(Visitor):
    def __init__(self, variables: dict[str, Any], defaults: dict[str, Any]) -> None:
        super().__init__()
        # A variable the request leaves out takes its default; one sent as null does not.
        self.variables = {**defaults, **variables}
        self.sizes: list[Any] = []

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                self.sizes.append(int(value.value))
            elif isinstance(value, VariableNode):
                self.sizes.append(whole_number(self.variables.get(value.name.value)))


class _FieldLevels:
    """Levels of fields below a selection set, fragments expanded, counted up to a cap.

    Introspection fields are left out: their answer comes from memory, and GraphiQL's own
    introspection nests a type reference deeper than any limit we would set. Each
    (selection set, cap) is counted once, so fragments spread under many fields cannot
    make the count exponential in the document's size.
    """

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[tuple[int, int], int] = {}
        self.open: set[str] = set()  # fragments being expanded: a cycle counts nothing

    def below(self, selection_set: SelectionSetNode, cap: int) -> int:
        key = (id(selection_set), cap)
        if cap <= 0 or key in self.memo:
            return self.memo.get(key, 0)
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                nested = selection.selection_set
                deepest = max(deepest, 1 + (self.below(nested, cap - 1) if nested else 0))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.below(selection.selection_set, cap))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in self.open:
                    self.open.add(name)
                    deepest = max(deepest, self.below(fragment.selection_set, cap))
                    self.open.discard(name)
            if deepest >= cap:
                break
        self.memo[key] = deepest
        return deepest


def depth_limit(max_depth: int) -> type[ValidationRule]:
    """A validation rule refusing operations with more than ``max_depth`` levels of fields.

    Strawberry's QueryDepthLimiter counts the top-level field as depth 0, so its limit
    of 10 let 11 levels through; here ``{ customers { totalCount } }`` is 2 levels.
    """

    class DepthLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            levels = _FieldLevels(fragments).below(node.selection_set, max_depth + 1)
            if levels > max_depth:
                self.report_error(
                    ClientError(
                        f"The operation nests fields more than {max_depth} levels deep, the limit.",
                        "QUERY_TOO_DEEP",
                        limit=max_depth,
                    )
                )

    return DepthLimit


class PageSizeLimit(SchemaExtension):
    """Refuses ``first`` above the limit (or negative), literal or variable, before execution.

    Listed after ValidationCache: it adds its error to the validation result, so a
    refused operation never reaches a resolver.
    """

    def __init__(self, max_page_size: int) -> None:
        self.max_page_size = max_page_size

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document: DocumentNode | None = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            defaults = _variable_defaults(document, context.operation_name)
            visitor = _PageSizes(context.variables or {}, defaults)
            visit(document, visitor)
            bad = [
                s for s in visitor.sizes if isinstance(s, int) and not 0 <= s <= self.max_page_size
            ]
            if bad:
                context.pre_execution_errors = [
                    ClientError(
                        f"`first` must be between 0 and {self.max_page_size}.",
                        "PAGE_SIZE_EXCEEDED",
                    )
                ]
        yield


# Far longer than any number a field takes (Int is 32-bit; a Decimal beyond ±64 is refused
# anyway), far shorter than Python's int-string limit (4,300 digits), past which
# graphql-core's int() fails inside validation: an internal error, not the caller's.
MAX_NUMBER_LITERAL = 100


class _LongNumbers(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_int_value(self, node: IntValueNode, *_: Any) -> Any:
        return self._check(node.value)

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> Any:
        return self._check(node.value)

    def _check(self, literal: str) -> Any:
        if len(literal) > MAX_NUMBER_LITERAL:
            self.found = True
            return BREAK
        return None


class RefuseLongNumbers(SchemaExtension):
    """Refuses a number literal longer than ``MAX_NUMBER_LITERAL`` characters, before execution.

    Listed after ValidationCache: its error replaces what validation said (graphql-core's
    own conversion of such a literal fails with a ValueError, which would be masked). No
    argument takes such a number, so only a document that failed validation can hold
    one: the others are not walked. JSON variables have their own guard (``app.http``).
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document: DocumentNode | None = context.graphql_document
        if document is not None and context.pre_execution_errors:
            visitor = _LongNumbers()
            visit(document, visitor)
            if visitor.found:
                context.pre_execution_errors = [
                    ClientError(
                        f"A number may have at most {MAX_NUMBER_LITERAL} characters.",
                        "INVALID_NUMBER",
                    )
                ]
        yield


# NUL, and lone surrogates (U+D800..U+DFFF: JSON's "\ud800" escape decodes to one),
# which no UTF-8 encoder accepts.
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def _has_bad_text(value: Any) -> bool:
    # The RequestGuard caps JSON nesting, so this recursion stays shallow.
    if isinstance(value, str):
        return _BAD_TEXT.search(value) is not None
    if isinstance(value, dict):
        return any(_has_bad_text(k) or _has_bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_bad_text(v) for v in value)
    return False


class RefuseNulCharacters(SchemaExtension):
    """Refuses text holding NUL or a lone surrogate, in variables or literals, before execution.

    PostgreSQL cannot store NUL in text, and a lone surrogate fails to encode for the
    database (or for a search): without this, any text input could end in an internal
    error instead of the caller's.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        # A lone surrogate in a literal, raw or escaped, is already a syntax error.
        if "\x00" in query or "\\u0000" in query or _has_bad_text(context.variables or {}):
            context.pre_execution_errors = [
                ClientError(
                    "Text may not contain NUL (U+0000) or lone surrogates (U+D800 to U+DFFF).",
                    "INVALID_TEXT",
                )
            ]
        yield


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(error, ClientError) or isinstance(original, ClientError):
        return False  # validation and our own client errors carry no internals
    # graphql-core's own errors (a variable of the wrong type) are the client's mistake.
    return not isinstance(original, InvalidCursor | GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Unexpected errors reach the caller as one line with a reference; the log has the rest."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask)

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        # A cursor this server never handed out is the caller's mistake: say so in the code,
        # as for every other refusal (the domain error knows no GraphQL extensions).
        result = self.execution_context.result
        for error in (result.errors if result is not None else None) or ():
            original = error.original_error
            if isinstance(original, InvalidCursor):
                error.extensions = {**(error.extensions or {}), "code": original.code.value}

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "-")
        if isinstance(error.original_error, StatementTimeout):
            # Expected under load or for a heavy query: the caller's to retry or narrow,
            # one log line, no traceback (the budget did its job).
            log.warning(
                "a statement ran past its time budget", extra={"path": list(error.path or [])}
            )
            return GraphQLError(
                "The query ran past its time budget and was stopped. Retry, or ask for less.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": ErrorCode.QUERY_TIMEOUT.value, "requestId": request_id},
            )
        log.error(
            "unexpected error in a GraphQL operation",
            exc_info=error.original_error,
            extra={"path": list(error.path or [])},
        )
        return GraphQLError(
            f"Unexpected error. Reference: {request_id}",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


class Schema(strawberry.Schema):
    """Strawberry's schema, logging the caller's mistakes at INFO and only bugs at ERROR.

    Strawberry logs every GraphQL error at ERROR with its traceback: a till sending a
    stale cursor or a typo in a field name would page whoever watches ERROR lines. The
    errors we do not mask are the caller's (validation, bad variables, refused
    cursors, our ``ClientError``s): one INFO line with the message (redacted by the
    ``strawberry.execution`` filter in ``app.observability``) and the code, no
    traceback. Masked errors keep Strawberry's ERROR line with the traceback.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if _should_mask(error):
                StrawberryLogger.error(error, execution_context)
            else:
                code = (error.extensions or {}).get("code")
                if code is None and isinstance(error.original_error, InvalidCursor):
                    code = error.original_error.code.value  # the mask adds it to the answer later
                StrawberryLogger.logger.info(error, extra={"code": code})
