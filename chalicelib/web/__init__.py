"""The HTTP edge: routes, authentication context, request parsing, problems, pagination."""
