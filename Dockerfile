# The hub's image: the `hub` command on a slim Python, run as an unprivileged user.
# Build: docker build -t sharing-hub .    Run: see deploy/compose.yaml and docs/deploy.md.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY connectors ./connectors
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/hub --create-home hub
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER hub
WORKDIR /var/lib/hub
# Data (SQLite file, secrets) lives here unless storage.url points at PostgreSQL; the secrets
# must be the same files for every web and worker process of one hub.
ENV HUB_STORAGE_DATA_DIR=/var/lib/hub/var \
    HUB_SERVER_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/hub/var"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
ENTRYPOINT ["hub"]
CMD ["serve"]
