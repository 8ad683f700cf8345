# syntax=docker/dockerfile:1
# PyTake as a container: one image for every role, chosen by the command:
#   pytake migrate   apply the database migrations (once per release, before the others start)
#   pytake api       the HTTP API (HOST, PORT, API_WORKERS)
#   pytake worker    the job and webhook worker (WORKER_PROCESSES, WORKER_METRICS_PORT)
# Build: docker build -t pytake .        deploy/compose.yaml runs them against PostgreSQL 16.
# The base is any Debian-based image with Python 3.11+ as `python3` (PYTHON_IMAGE; deploy/test-image.sh says how
# to build one from Debian's archive where no registry can be reached).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtual environment holding PyTake and its runtime dependencies, from wheels only -----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/pytake
WORKDIR /src
# The dependencies first, in their own layer: rebuilt only when pyproject.toml changes. Binary wheels only, so
# no compiler is needed here and none can reach the final image. The `embedded` extra (pgserver, an embedded
# PostgreSQL for `make run`) is left out: a container always has DATABASE_URL.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/pytake/bin/pip install --only-binary=:all: -r requirements.txt
COPY README.md ./
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
RUN /opt/pytake/bin/pip install --no-deps . \
    && /opt/pytake/bin/python -c "import adapters.postgres.migrations as m; print('migrations head', m.head_revision())" \
    && /opt/pytake/bin/python -m pip uninstall --quiet --yes pip setuptools

# ---- runtime: the virtual environment (without pip) on a clean base, run by an unprivileged user -----------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 pytake \
    && useradd --system --uid 10001 --gid pytake --home-dir /var/lib/pytake --create-home \
        --shell /usr/sbin/nologin pytake
COPY --from=build /opt/pytake /opt/pytake
# Production by default: without JWT_SECRET, VAULT_MASTER_KEYS, WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN and
# DATABASE_URL in the environment every role refuses to start (it never generates secrets in production).
ENV PATH=/opt/pytake/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKER_METRICS_HOST=0.0.0.0 \
    LOG_JSON=true \
    DATA_DIR=/var/lib/pytake
USER 10001:10001
WORKDIR /var/lib/pytake
EXPOSE 8000 9100
ENTRYPOINT ["pytake"]
CMD ["api"]
