"""GraphQL shapes (Strawberry types, inputs, payloads) and the schema object; no business rules."""
