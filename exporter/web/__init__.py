"""Web plumbing, knowing nothing of the routes it serves: the WSGI server and its
non-blocking connection gate (`httpd`), the `--web.config.file` loader (`config`),
basic auth (`basic_auth`) and TLS (`tls`)."""
