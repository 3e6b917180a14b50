"""The provider-neutral upstream HTTP client: pooled transport and per-account calls.

`transport` owns connections, deadlines and size caps; `client` adds base-URL
fallback, one token refresh on 401 and host back-off. Providers plug in the
headers their upstream needs and an `ErrorDecoder` for its error bodies.
"""
