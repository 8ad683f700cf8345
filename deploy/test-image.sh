#!/usr/bin/env bash
# Build the PyTake image and smoke-test it the way deploy/compose.yaml runs it:
#   image checks (non-root user, no compiler, no embedded PostgreSQL), production refusing to start without its
#   secrets, `pytake migrate` against PostgreSQL, `pytake api` answering GET /health and /ready, `pytake worker`
#   (two processes) serving its metrics, and a clean stop of both on SIGTERM.
#
# Usage: deploy/test-image.sh            (from anywhere; needs docker with a running daemon, or podman)
# Settings (environment):
#   ENGINE            docker or podman (default: docker when its daemon answers, else podman)
#   IMAGE             the tag to build (default pytake:smoke)
#   PYTHON_IMAGE      the base image (default python:3.11-slim-bookworm). When it cannot be pulled (no registry
#                     reachable) and mmdebstrap is installed, a base is built from Debian's archive instead:
#                     Debian 12 with python3 and python3-venv, plus this machine's CA certificates (a TLS-inspecting
#                     egress proxy is then trusted by pip inside the build too).
#   SMOKE_DATABASE_URL  a PostgreSQL the containers can reach over the host network (superuser or CREATEROLE); by
#                     default a postgres:16 container, or, when that image cannot be pulled either, a throwaway
#                     server from the pgserver binaries of .venv (`make install`).
#   SMOKE_API_PORT, SMOKE_METRICS_PORT   host ports used (default 18080 and 19100; host networking)
# Keeps CPU use modest: the build runs under nice, one image, two short-lived containers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${IMAGE:-pytake:smoke}
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11-slim-bookworm}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:16}
API_PORT=${SMOKE_API_PORT:-18080}
METRICS_PORT=${SMOKE_METRICS_PORT:-19100}
WORK=$(mktemp -d /tmp/pytake-smoke.XXXXXX)
CONTAINERS=()
PG_DATA=""

say() { printf '==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

if [[ -z "${ENGINE:-}" ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker
  elif command -v podman >/dev/null; then ENGINE=podman
  else
    echo "no container engine: install docker (with its daemon running) or podman (apt-get install podman)" >&2
    exit 2
  fi
fi

# Engine flags. Podman inside a container (like these 2-core CI machines) needs runc (crun refuses hybrid
# cgroups) and modest ulimits.
ENGINE_GLOBAL=()
BUILD_FLAGS=(--network host)
RUN_FLAGS=(--network host)
if [[ "$ENGINE" == podman ]]; then
  if command -v runc >/dev/null; then ENGINE_GLOBAL=(--runtime runc); fi
  LIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)  # its defaults are higher than a sandbox may set
  BUILD_FLAGS+=("${LIMITS[@]}"); RUN_FLAGS+=("${LIMITS[@]}")
fi
engine() { "$ENGINE" "${ENGINE_GLOBAL[@]}" "$@"; }
engine_run() { engine run "${RUN_FLAGS[@]}" "$@"; }

cleanup() {
  local status=$?
  for c in "${CONTAINERS[@]}"; do "$ENGINE" rm -f "$c" >/dev/null 2>&1 || true; done
  if [[ -n "$PG_DATA" && -f "$PG_DATA/postmaster.pid" ]]; then pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT

# ---- the base image ------------------------------------------------------------------------------------------
if ! "$ENGINE" image inspect "$PYTHON_IMAGE" >/dev/null 2>&1 && ! "$ENGINE" pull "$PYTHON_IMAGE" >/dev/null 2>&1; then
  command -v mmdebstrap >/dev/null || fail "cannot pull $PYTHON_IMAGE and mmdebstrap is not installed to build a base"
  PYTHON_IMAGE=localhost/pytake-python-base:bookworm
  if ! "$ENGINE" image inspect "$PYTHON_IMAGE" >/dev/null 2>&1; then
    say "no registry reachable: building $PYTHON_IMAGE from Debian's archive (mmdebstrap, about a minute)"
    # shellcheck disable=SC2016  # the hook's $1 and $c are mmdebstrap's, expanded when it runs the hook
    nice mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='for c in /usr/local/share/ca-certificates/*.crt; do [ -f "$c" ] && cp "$c" "$1/usr/local/share/ca-certificates/"; done; chroot "$1" update-ca-certificates >/dev/null' \
      bookworm "$WORK/rootfs.tar"
    "$ENGINE" import --change 'CMD ["python3"]' --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
      "$WORK/rootfs.tar" "$PYTHON_IMAGE" >/dev/null 2>&1
    rm -f "$WORK/rootfs.tar"
  fi
fi

# ---- build ---------------------------------------------------------------------------------------------------
say "building $IMAGE on $PYTHON_IMAGE with $ENGINE"
nice "$ENGINE" "${ENGINE_GLOBAL[@]}" build "${BUILD_FLAGS[@]}" --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
  -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; fail "build"; }
"$ENGINE" image inspect "$IMAGE" --format 'image size: {{.Size}} bytes' 2>/dev/null || true

# ---- image checks --------------------------------------------------------------------------------------------
say "image: runs as an unprivileged user, holds no compiler and no embedded PostgreSQL"
[[ "$(engine_run --rm --entrypoint id "$IMAGE" -u)" == 10001 ]] || fail "the image does not run as uid 10001"
# shellcheck disable=SC2016  # $t is expanded by the container's shell
engine_run --rm --entrypoint sh "$IMAGE" -c 'for t in gcc cc make; do command -v $t && exit 1; done; exit 0' \
  >/dev/null || fail "a build tool is in the final image"
engine_run --rm --entrypoint python "$IMAGE" -c 'import importlib.util as u; raise SystemExit(u.find_spec("pgserver") is not None)' \
  || fail "pgserver is in the production image"
engine_run --rm "$IMAGE" --help >"$WORK/help.txt"
for role in api worker migrate; do grep -q " $role " "$WORK/help.txt" || fail "pytake $role is missing"; done

say "production refuses to start without its secrets (and names them, never their values)"
set +e
refusal=$(engine_run --rm -e DATABASE_URL=postgresql://x:y@127.0.0.1:1/z "$IMAGE" api 2>&1); code=$?
set -e
[[ $code -eq 2 && "$refusal" == *JWT_SECRET*VAULT_MASTER_KEYS* ]] || fail "api started without secrets: $refusal"

# ---- PostgreSQL ----------------------------------------------------------------------------------------------
pg_as_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi; }
if [[ -n "${SMOKE_DATABASE_URL:-}" ]]; then
  DATABASE_URL=$SMOKE_DATABASE_URL
elif "$ENGINE" image inspect "$POSTGRES_IMAGE" >/dev/null 2>&1 || "$ENGINE" pull "$POSTGRES_IMAGE" >/dev/null 2>&1; then
  say "PostgreSQL: a $POSTGRES_IMAGE container on port 15432"
  CONTAINERS+=(pytake-smoke-postgres)
  engine_run -d --name pytake-smoke-postgres -e POSTGRES_PASSWORD=smoke -e POSTGRES_USER=pytake \
    -e POSTGRES_DB=pytake -e PGPORT=15432 "$POSTGRES_IMAGE" >/dev/null
  for _ in $(seq 60); do "$ENGINE" exec pytake-smoke-postgres pg_isready -q -h 127.0.0.1 -p 15432 && break; sleep 1; done
  DATABASE_URL=postgresql://pytake:smoke@127.0.0.1:15432/pytake
else
  PG_BIN=$("$ROOT/.venv/bin/python" -c 'from pgserver._commands import POSTGRES_BIN_PATH as p; print(p)' 2>/dev/null) \
    || fail "no PostgreSQL: set SMOKE_DATABASE_URL, make $POSTGRES_IMAGE pullable, or run make install (pgserver)"
  say "PostgreSQL: no $POSTGRES_IMAGE image; a throwaway server from pgserver's binaries on port 15432"
  PG_DATA=$WORK/pg; mkdir -p "$PG_DATA"; chmod 755 "$WORK"
  [[ $(id -u) -eq 0 ]] && chown nobody "$PG_DATA"
  echo smoke >"$WORK/pgpass"; chmod 644 "$WORK/pgpass"
  pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=scram-sha-256 --pwfile="$WORK/pgpass" >/dev/null
  pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/log" -w \
    -o "-h 127.0.0.1 -p 15432 -k $PG_DATA" start >/dev/null
  PGPASSWORD=smoke "$PG_BIN/psql" -q -h 127.0.0.1 -p 15432 -U postgres -c 'CREATE DATABASE pytake' postgres
  DATABASE_URL=postgresql://postgres:smoke@127.0.0.1:15432/pytake
fi

# Secrets for the smoke run only, generated here and never written anywhere.
SECRETS=(-e ENV=production -e "DATABASE_URL=$DATABASE_URL"
  -e "JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
  -e "VAULT_MASTER_KEYS={\"1\": \"$(head -c 32 /dev/urandom | base64 | tr -d '\n')\"}"
  -e "WHATSAPP_APP_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  -e "WHATSAPP_VERIFY_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '\n/+=')")

wait_for() {  # url, container
  for _ in $(seq 90); do
    if curl -fsS -o "$WORK/answer" "$1" 2>/dev/null; then return 0; fi
    [[ "$("$ENGINE" inspect -f '{{.State.Running}}' "$2" 2>/dev/null)" == true ]] || { "$ENGINE" logs "$2" | tail -30; fail "$2 exited"; }
    sleep 1
  done
  "$ENGINE" logs "$2" | tail -30; fail "nothing answered on $1"
}

# ---- migrate, api, worker ------------------------------------------------------------------------------------
say "pytake migrate"
engine_run --rm "${SECRETS[@]}" "$IMAGE" migrate | tail -1

say "pytake api on port $API_PORT"
CONTAINERS+=(pytake-smoke-api)
engine_run -d --name pytake-smoke-api "${SECRETS[@]}" -e "PORT=$API_PORT" -e API_WORKERS=2 "$IMAGE" api >/dev/null
wait_for "http://127.0.0.1:$API_PORT/health" pytake-smoke-api
grep -q '"ok"' "$WORK/answer" || fail "GET /health: $(cat "$WORK/answer")"
wait_for "http://127.0.0.1:$API_PORT/ready" pytake-smoke-api
grep -q '"ready"' "$WORK/answer" || fail "GET /ready: $(cat "$WORK/answer")"
echo "GET /health and GET /ready answer 200: $(cat "$WORK/answer")"

say "pytake worker (two processes) with metrics on port $METRICS_PORT"
CONTAINERS+=(pytake-smoke-worker)
engine_run -d --name pytake-smoke-worker "${SECRETS[@]}" -e WORKER_PROCESSES=2 \
  -e "WORKER_METRICS_PORT=$METRICS_PORT" "$IMAGE" worker >/dev/null
for port in "$METRICS_PORT" $((METRICS_PORT + 1)); do
  wait_for "http://127.0.0.1:$port/metrics" pytake-smoke-worker
  grep -q pytake_jobs_total "$WORK/answer" || fail "worker metrics on $port"
done
echo "both worker processes serve /metrics"

say "SIGTERM stops both cleanly"
"$ENGINE" stop -t 40 pytake-smoke-api pytake-smoke-worker >/dev/null
"$ENGINE" logs pytake-smoke-api 2>&1 | grep -q "Application shutdown complete" || fail "the API did not shut down cleanly"
[[ $("$ENGINE" logs pytake-smoke-worker 2>&1 | grep -c '"worker.stopped"') -eq 2 ]] \
  || fail "the worker processes did not stop cleanly"
if "$ENGINE" logs pytake-smoke-api pytake-smoke-worker 2>&1 | grep -q Traceback; then fail "a traceback in the logs"; fi
say "smoke test passed"
