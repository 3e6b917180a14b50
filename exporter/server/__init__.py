"""Serving: WSGI routes (`app`), the JSON API (`api`), config reloads and signals
(`lifecycle`). The HTTP server itself is in `exporter.web`."""
