"""The query cost limit: the most an operation can ask for, reckoned before any resolver runs.

In the style of GitHub's and Shopify's calculated query cost (and Saleor's
``query_cost``): the cost of an operation is the number of fields its answer can hold
at most.

- Every field costs 1, scalars and enums too: graphql-core spends about 11 µs on each
  field it resolves, whatever its type (DESIGN.md §6), and that is the time one
  operation holds the event loop for everyone else. ``__typename`` costs 0.
- A field with a ``first`` argument (the literal, the variable's value, the variable's
  default, else the argument's default page size) multiplies the cost of its list's
  items by it: the connection's ``edges``, or the field's own items when it is a list.
- A list with no ``first`` of its own (``Customer.groups``, ``Sale.lines``) is counted
  as ``UNPAGED_LIST_SIZE`` items: nothing in the request bounds it.
- ``__schema`` and ``__type`` cost as many fields as the full introspection of the
  schema answers (about 13,000), counted once when the schema first serves: the answer
  comes from memory and is bounded by the schema, not by the request, but it is not free
  (about 45 ms), so 20 aliased introspections are refused like any other heavy query.
- Fields of a nested object cost once per item of every list above them; fragments and
  inline fragments are expanded, and fields with the same response name are merged, as
  execution merges them, while aliases count separately.

So ``customers(first: 100) { edges { node { name groups { name } } } }`` costs
1 + 1 + 100 x (1 + 1 + (1 + 10 x 1)) = 1,302: customers and edges once, then per
customer its node, name, groups and 10 group names.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionNode,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    introspection_from_schema,
    is_abstract_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from app.schema.errors import ClientError
from app.schema.limits import whole_number

UNPAGED_LIST_SIZE = 10

# (alias or name) -> the field nodes execution merges under that response name.
FieldGroups = dict[str, list[FieldNode]]


def _is_list(type_: GraphQLOutputType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Reckoning:
    """One operation's cost: a walk over its fields, each (fields, type, page) reckoned once.

    The memo keeps the walk linear in the document: a fragment spread under many fields
    is reckoned once per place in the type tree, not once per path through it, so a
    small document whose answer would be astronomically large is still reckoned fast.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any],
        introspection: int,
    ) -> None:
        self.schema = schema
        self.introspection = introspection
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.memo: dict[tuple[tuple[int, ...], str, int | None], int] = {}

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        return self.selections([operation.selection_set], root, None)

    def selections(
        self, sets: Sequence[SelectionSetNode], type_: GraphQLObjectType, page: int | None
    ) -> int:
        key = (tuple(map(id, sets)), type_.name, page)
        if key not in self.memo:
            groups: FieldGroups = {}
            spread: set[str] = set()
            for selection_set in sets:
                self._collect(selection_set, type_, groups, spread)
            self.memo[key] = sum(self.field(type_, nodes, page) for nodes in groups.values())
        return self.memo[key]

    def field(self, parent: GraphQLObjectType, nodes: list[FieldNode], page: int | None) -> int:
        name = nodes[0].name.value
        definition = self._definition(parent, name)
        if definition is None:  # __typename, or a field validation has already refused
            return 0
        if definition is SchemaMetaFieldDef or definition is TypeMetaFieldDef:
            return self.introspection
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 1
        first = self._first(definition, nodes[0])
        if _is_list(definition.type):
            items = first if first is not None else page if page is not None else UNPAGED_LIST_SIZE
            return 1 + items * self._children(nodes, named, None)
        # A connection: its own fields once; its list (edges) once per item of the page.
        return 1 + self._children(nodes, named, first)

    def _children(self, nodes: list[FieldNode], named: Any, page: int | None) -> int:
        sets = [n.selection_set for n in nodes if n.selection_set is not None]
        if is_abstract_type(named):
            # Each item is one of the possible types: reckon the dearest.
            possible = self.schema.get_possible_types(named)
            return max((self.selections(sets, t, page) for t in possible), default=0)
        return self.selections(sets, named, page)

    def _definition(self, parent: GraphQLObjectType, name: str) -> GraphQLField | None:
        if name == "__schema" and parent is self.schema.query_type:
            return SchemaMetaFieldDef
        if name == "__type" and parent is self.schema.query_type:
            return TypeMetaFieldDef
        found: GraphQLField | None = parent.fields.get(name)
        return found

    def _first(self, definition: GraphQLField, node: FieldNode) -> int | None:
        argument = definition.args.get("first")
        if argument is None:
            return None
        given = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
        value = whole_number(self._value(given)) if given is not None else None
        if value is None:  # left out, or not a number: execution refuses the latter
            value = whole_number(argument.default_value)
        return max(value or 0, 0)

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode | BooleanValueNode):
            return value_from_ast_untyped(node)
        return None

    def _included(self, node: SelectionNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in (GraphQLSkipDirective.name, GraphQLIncludeDirective.name):
                continue
            condition = next(
                (a.value for a in directive.arguments or () if a.name.value == "if"), None
            )
            value = self._value(condition) if condition is not None else None
            # An unknown value: count the fields in (execution refuses the variable anyway).
            if name == GraphQLSkipDirective.name and value is True:
                return False
            if name == GraphQLIncludeDirective.name and value is False:
                return False
        return True

    def _applies(self, condition: str | None, type_: GraphQLObjectType) -> bool:
        if condition is None or condition == type_.name:
            return True
        fragment_type = self.schema.get_type(condition)
        return is_abstract_type(fragment_type) and self.schema.is_sub_type(fragment_type, type_)

    def _collect(
        self,
        selection_set: SelectionSetNode,
        type_: GraphQLObjectType,
        groups: FieldGroups,
        spread: set[str],
    ) -> None:
        """Fields by response name, fragments expanded, as graphql-core's collect_fields."""
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                groups.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if self._applies(condition.name.value if condition else None, type_):
                    self._collect(selection.selection_set, type_, groups, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                # Once per field's selections, as in execution; this also stops a cycle.
                if fragment is None or name in spread:
                    continue
                spread.add(name)
                if self._applies(fragment.type_condition.name.value, type_):
                    self._collect(fragment.selection_set, type_, groups, spread)


def _variables_with_defaults(
    operation: OperationDefinitionNode, variables: dict[str, Any]
) -> dict[str, Any]:
    # A variable the request leaves out takes its default; one sent as null does not.
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    return {**defaults, **variables}


def _fields_in(answer: Any) -> int:
    if isinstance(answer, dict):
        return len(answer) + sum(_fields_in(v) for v in answer.values())
    if isinstance(answer, list):
        return sum(_fields_in(v) for v in answer)
    return 0


def introspection_cost(schema: GraphQLSchema) -> int:
    """The fields in the full introspection of ``schema``, as GraphiQL asks for it."""
    return _fields_in(introspection_from_schema(schema))


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
    introspection: int,
) -> int | None:
    """The cost of the operation that would run; None when none would (execution says why)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    values = _variables_with_defaults(operation, variables)
    return _Reckoning(schema, document, values, introspection).operation(operation)


def _numbers(variables: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    # Only an Int (`first`) or a Boolean (@skip, @include) changes a cost, so only those
    # variables key the cache; an input object or a search text never does.
    return tuple(
        sorted(
            (name, value)
            for name, value in variables.items()
            if value is None or isinstance(value, int | float | bool)
        )
    )


class CostCache:
    """The last ``maxsize`` costs by (query text, operation name, numeric variables)."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._introspection: int | None = None
        self._costs: OrderedDict[tuple[str, str | None, tuple[Any, ...]], int | None] = (
            OrderedDict()
        )

    def cost(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any],
    ) -> int | None:
        key = (query, operation_name, _numbers(variables))
        if key in self._costs:
            self._costs.move_to_end(key)
            return self._costs[key]
        if self._introspection is None:
            self._introspection = introspection_cost(schema)
        found = operation_cost(schema, document, operation_name, variables, self._introspection)
        self._costs[key] = found
        if len(self._costs) > self.maxsize:
            self._costs.popitem(last=False)
        return found


class QueryCostLimit(SchemaExtension):
    """Refuses an operation costing more than the limit, before any resolver runs.

    Listed after PageSizeLimit (itself after ValidationCache): only a valid document
    with allowed page sizes is reckoned, so the walk trusts the document's shape. Every
    reckoned operation answers its cost in ``extensions.cost``, refused or not, so a
    client sees how close to the limit it is.
    """

    def __init__(self, limit: int, cache: CostCache) -> None:
        self.limit = limit
        self.cache = cache
        self.requested: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.query and not context.pre_execution_errors:
            self.requested = self.cache.cost(
                context.schema._schema,
                context.query,
                document,
                context.operation_name,
                context.variables or {},
            )
            if self.requested is not None and self.requested > self.limit:
                context.pre_execution_errors = [
                    ClientError(
                        f"This query costs {self.requested}, over the limit of {self.limit}."
                        " Ask for fewer items (first) or fewer nested lists.",
                        "QUERY_TOO_COMPLEX",
                        cost=self.requested,
                        limit=self.limit,
                    )
                ]
        yield

    def get_results(self) -> dict[str, Any]:
        if self.requested is None:
            return {}
        return {"cost": {"requested": self.requested, "limit": self.limit}}
