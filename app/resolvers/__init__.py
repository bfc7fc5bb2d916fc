"""Query and mutation resolvers: thin, they translate GraphQL to service calls and back."""
