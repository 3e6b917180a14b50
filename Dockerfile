# llm-quota-exporter. Default: the built-in demo (simulated upstream, no
# accounts needed). For real accounts mount a config and run
#   --config.file /etc/llm-quota/config.yml --web.listen-address 0.0.0.0:10977
# An exact Python and Debian release, so a rebuild gets the same interpreter.
# The digest is not pinned: it could not be looked up where this was written
# (no registry access). To pin it, append the one your registry reports:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install . \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --home-dir /home/exporter --create-home exporter

# deploy/kubernetes runs it with the same uid and gid (runAsUser/runAsGroup).
USER 10001:10001
WORKDIR /home/exporter

EXPOSE 10977
# /-/healthy never calls upstream, so a slow provider cannot fail the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10977/-/healthy', timeout=4)"]

ENTRYPOINT ["llm-quota-exporter"]
CMD ["demo", "--web.listen-address", "0.0.0.0:10977"]
