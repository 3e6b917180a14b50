"""Serving: WSGI routes (`app`), the JSON API (`api`), the HTTP server (`httpd`),
and the web config's TLS and basic auth (`webconfig`, `webserver`)."""
