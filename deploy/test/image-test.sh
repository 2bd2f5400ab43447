#!/usr/bin/env bash
# make image-test: build the image on a local Debian base, run deploy/compose.yaml
# on the host's network (test/compose.host.yaml), chat through the proxy, kill the
# hub holding the customer's socket, check the conversation goes on, tear down.
#
# Needs root (dockerd) and Debian's packages docker.io, docker-compose and
# debootstrap (installed if missing). No public registry is used: the base is
# debootstrapped from the Debian mirror apt already uses and `docker import`ed;
# Redis, nginx and Prometheus come from Debian's packages on that base.
# Never a bridge network: dockerd (if started here) has none, and every service
# runs with network_mode: host on free ports of 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${SB_IMAGE_CACHE:-/var/cache/switchboard-image}
BASE_IMAGE=switchboard-base:bookworm
export SWITCHBOARD_IMAGE=switchboard:image-test
PROJECT=sbimagetest
PY=${PYTHON:-$ROOT/.venv/bin/python}
STARTED_DOCKERD=""

log() { printf 'image-test: %s\n' "$*"; }
die() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (dockerd, debootstrap)"
[ -x "$PY" ] || die "no $PY: run make .venv/.installed-dev first"

need_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return; fi
  log "starting dockerd (no bridge, no iptables)"
  dockerd --bridge=none --iptables=false --ip-masq=false >"$CACHE/dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
  die "dockerd did not start (see $CACHE/dockerd.log)"
}

mirror() {  # the Debian mirror apt is configured with
  local url
  url=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -v security | head -1 | awk '{print $2}')
  echo "${url:-http://deb.debian.org/debian}"
}

local_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  local rootfs="$CACHE/rootfs"
  if [ ! -x "$rootfs/usr/bin/python3" ]; then
    log "debootstrap a minimal Debian bookworm with python3 into $rootfs (from $(mirror))"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$rootfs" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed (see $CACHE/debootstrap.log)"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  fi
  # The base trusts what this machine trusts (a TLS-inspecting proxy's CA, if any),
  # so pip and apt inside the build reach the registries the host reaches.
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
  log "docker import $BASE_IMAGE"
  tar -C "$rootfs" -c . | docker import --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' - "$BASE_IMAGE" >/dev/null
}

build_images() {
  local started
  started=$(date +%s)
  log "docker build --build-arg BASE=$BASE_IMAGE -t $SWITCHBOARD_IMAGE ."
  DOCKER_BUILDKIT=0 docker build --network host --build-arg BASE="$BASE_IMAGE" \
    -t "$SWITCHBOARD_IMAGE" "$ROOT" >"$CACHE/build.log" 2>&1 || { tail -20 "$CACHE/build.log"; die "image build"; }
  log "built in $(( $(date +%s) - started )) s; image size $(docker image inspect -f '{{.Size}}' "$SWITCHBOARD_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')" \
      "(base $(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
  DOCKER_BUILDKIT=0 docker build --network host --build-arg BASE="$BASE_IMAGE" \
    -t switchboard-test-tools -f "$ROOT/deploy/test/tools.Dockerfile" "$ROOT/deploy/test" \
    >"$CACHE/tools-build.log" 2>&1 || { tail -20 "$CACHE/tools-build.log"; die "tools image build"; }
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

write_configs() {
  export SB_TEST_DIR
  SB_TEST_DIR=$(mktemp -d /tmp/sb-image-test.XXXXXX)
  chmod 755 "$SB_TEST_DIR"
  export REDIS_PORT HUB1_PORT HUB2_PORT PROXY_PORT PROMETHEUS_PORT
  REDIS_PORT=$(free_port); HUB1_PORT=$(free_port); HUB2_PORT=$(free_port)
  PROXY_PORT=$(free_port); PROMETHEUS_PORT=$(free_port)
  sed -e 's|^host = "0.0.0.0".*|host = "127.0.0.1"|' \
      -e "s|redis://redis:6379/0|redis://127.0.0.1:$REDIS_PORT/0|" \
      -e 's|^trusted_proxies = .*|trusted_proxies = ["127.0.0.1"]|' \
      "$ROOT/deploy/config.toml" >"$SB_TEST_DIR/config.toml"
  sed -e "s|server hub1:8080|server 127.0.0.1:$HUB1_PORT|" \
      -e "s|server hub2:8080|server 127.0.0.1:$HUB2_PORT|" \
      -e "s|listen 8080;|listen 127.0.0.1:$PROXY_PORT;|" \
      "$ROOT/deploy/nginx/nginx.conf" >"$SB_TEST_DIR/nginx.conf"
  sed -e "s|\"hub1:8080\", \"hub2:8080\"|\"127.0.0.1:$HUB1_PORT\", \"127.0.0.1:$HUB2_PORT\"|" \
      -e "s|scrape_interval: 15s|scrape_interval: 2s|" \
      "$ROOT/deploy/prometheus/prometheus.yml" >"$SB_TEST_DIR/prometheus.yml"
  "$PY" "$ROOT/deploy/test/host_compose.py" "$SB_TEST_DIR/compose.yaml"
  chmod 644 "$SB_TEST_DIR"/*
}

compose() {  # compose.yaml with test/compose.host.yaml applied (host_compose.py)
  docker-compose -p "$PROJECT" --project-directory "$ROOT/deploy" -f "$SB_TEST_DIR/compose.yaml" "$@"
}

no_bridge_networks() {  # nothing of ours may sit on a bridge
  local bridges
  bridges=$(docker network ls --filter driver=bridge -q)
  [ -z "$bridges" ] || die "a bridge network exists ($(docker network ls --filter driver=bridge --format '{{.Name}}')): refusing to go on"
}

wait_healthy() {  # container...
  local deadline=$(( $(date +%s) + 300 ))
  for container in "$@"; do
    until [ "$(docker inspect -f '{{.State.Health.Status}}' "$container" 2>/dev/null)" = healthy ]; do
      [ "$(docker inspect -f '{{.State.Status}}' "$container")" != exited ] \
        || { docker logs --tail 30 "$container"; die "$container exited"; }
      [ "$(date +%s)" -lt "$deadline" ] || { docker logs --tail 30 "$container"; die "$container not healthy"; }
      sleep 0.5
    done
  done
}

teardown() {
  local rc=$?
  if [ -n "${SB_TEST_DIR:-}" ]; then
    [ $rc = 0 ] || compose logs --tail 20 hub1 hub2 proxy 2>/dev/null | tail -60 || true
    log "tearing down"
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$SB_TEST_DIR"
  fi
  if [ -n "$STARTED_DOCKERD" ]; then
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    wait "$STARTED_DOCKERD" 2>/dev/null || true
  fi
  if [ $rc = 0 ]; then log "PASSED"; else log "FAILED (exit $rc)"; fi
}

main() {
  mkdir -p "$CACHE"
  need_packages
  start_dockerd
  no_bridge_networks
  local_base
  build_images
  write_configs
  trap teardown EXIT
  log "ports: proxy $PROXY_PORT, hubs $HUB1_PORT and $HUB2_PORT, redis $REDIS_PORT, prometheus $PROMETHEUS_PORT (127.0.0.1)"
  local started
  started=$("$PY" -c 'import time; print(time.monotonic())')
  compose up -d --no-build redis hub1 hub2 proxy prometheus >"$SB_TEST_DIR/up.log" 2>&1 \
    || { cat "$SB_TEST_DIR/up.log"; die "docker-compose up"; }
  no_bridge_networks
  local hub1 hub2
  hub1=$(compose ps -q hub1); hub2=$(compose ps -q hub2)
  [ -n "$hub1" ] && [ -n "$hub2" ] || die "the hubs did not start"
  hub1=$(docker inspect -f '{{.Name}}' "$hub1" | tr -d /); hub2=$(docker inspect -f '{{.Name}}' "$hub2" | tr -d /)
  "$PY" - "$started" "$HUB1_PORT" "$HUB2_PORT" <<'PY'
import sys, time, urllib.request
started, ports = float(sys.argv[1]), sys.argv[2:]
for port in ports:
    while time.monotonic() - started < 300:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
print(f"image-test: cold start: /healthz of both hubs answers 200 {time.monotonic() - started:.1f} s after docker-compose up")
PY
  wait_healthy "$hub1" "$hub2"
  log "docker reports both hubs healthy $("$PY" -c "import time; print(f'{time.monotonic() - $started:.1f}')") s after docker-compose up (HEALTHCHECK every 10 s)"
  for c in "$hub1" "$hub2"; do
    log "$c: user $(docker exec "$c" id -un), RSS at idle $(docker exec "$c" sh -c 'grep VmRSS /proc/1/status' | awk '{printf "%.0f MB", $2/1024}')"
  done
  docker exec "$hub1" sh -c 'touch /etc/switchboard/config.toml' 2>/dev/null \
    && die "the config is writable in the container" || log "config and FAQ are mounted read-only"
  (cd "$ROOT" && PYTHONPATH="$ROOT" "$PY" deploy/test/drive.py \
     --proxy "http://127.0.0.1:$PROXY_PORT" \
     --hub "$hub1=http://127.0.0.1:$HUB1_PORT" --hub "$hub2=http://127.0.0.1:$HUB2_PORT" \
     --prometheus "http://127.0.0.1:$PROMETHEUS_PORT")
}

main "$@"
