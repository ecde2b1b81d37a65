#!/usr/bin/env bash
# Prepare a Debian 12 machine for the Docker tests of ecs-cwlogs. Idempotent; run as root.
#
# Contract (called by .ci/run):
#   bash .ci/setup-docker.sh        exit 0 when everything below is ready, non-zero otherwise.
#   - installs docker.io docker-registry debootstrap apache2-utils (apt) when missing;
#   - starts dockerd in the background when `docker info` fails, waits until it answers
#     (log: $STATE/dockerd.log);
#   - starts a docker-registry on 127.0.0.1:5000 that requires htpasswd (basic) auth,
#     with its own config, data and htpasswd under $STATE (log: $STATE/registry.log);
#   - builds the base image ecs-cwlogs-base:bookworm with debootstrap from the machine's own
#     Debian mirror (read from /etc/apt) and `docker import`; skipped when it already exists;
#   - writes /tmp/ecs-cwlogs-ci.env (mode 0600), sourced by .ci/run before the tests:
#       ECS_CWLOGS_TEST_BASE_IMAGE   ecs-cwlogs-base:bookworm
#       ECS_CWLOGS_TEST_REGISTRY     127.0.0.1:5000
#       ECS_CWLOGS_TEST_REGISTRY_USER / ECS_CWLOGS_TEST_REGISTRY_PASSWORD  (test-only credentials)
#   The tests read those variables; dockerd and the registry are left running.
#   STATE defaults to /tmp/ecs-cwlogs-ci (override with ECS_CWLOGS_CI_STATE).
set -euo pipefail

STATE="${ECS_CWLOGS_CI_STATE:-/tmp/ecs-cwlogs-ci}"
ENV_FILE="${ECS_CWLOGS_CI_ENV:-/tmp/ecs-cwlogs-ci.env}"
BASE_IMAGE="ecs-cwlogs-base:bookworm"
SUITE="bookworm"
REGISTRY_ADDR="127.0.0.1:5000"
REGISTRY_USER="ci"

log() { printf '[setup-docker] %s\n' "$*" >&2; }
mkdir -p "$STATE"
chmod 700 "$STATE"

# --- packages ---------------------------------------------------------------------------------
need=()
for p in docker.io docker-registry debootstrap apache2-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The package's own registry service, if any, must not hold port 5000 with its default config.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi

# --- dockerd ----------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  # setsid: the daemon must not die with this script's process group.
  setsid dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; last lines of its log:"; tail -20 "$STATE/dockerd.log" >&2; exit 1; }
fi
log "docker $(docker version --format '{{.Server.Version}}' 2>/dev/null) is up"

# --- registry with htpasswd auth ----------------------------------------------------------------
REG="$STATE/registry"
mkdir -p "$REG/data"
if [ ! -s "$REG/password" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$REG/password")
fi
REGISTRY_PASSWORD="$(cat "$REG/password")"
htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" >"$REG/htpasswd" 2>/dev/null
cat >"$REG/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REG/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
auth:
  htpasswd:
    realm: ecs-cwlogs-ci
    path: $REG/htpasswd
EOF

registry_status() { curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY_ADDR/v2/" 2>/dev/null || true; }
registry_ok() {
  [ "$(registry_status)" = 401 ] &&
    [ "$(curl -s -o /dev/null -w '%{http_code}' -u "$REGISTRY_USER:$REGISTRY_PASSWORD" "http://$REGISTRY_ADDR/v2/" 2>/dev/null)" = 200 ]
}
if ! registry_ok; then
  if [ -s "$REG/pid" ] && kill -0 "$(cat "$REG/pid")" 2>/dev/null; then
    log "restarting our registry (stale credentials)"
    kill "$(cat "$REG/pid")" || true
    sleep 1
  fi
  if [ "$(registry_status)" != 000 ]; then
    log "something else answers on $REGISTRY_ADDR; stop it first"
    exit 1
  fi
  log "starting docker-registry on $REGISTRY_ADDR (htpasswd auth)"
  setsid /usr/bin/docker-registry serve "$REG/config.yml" >"$REG/registry.log" 2>&1 </dev/null &
  echo $! >"$REG/pid"
  for _ in $(seq 1 30); do
    registry_ok && break
    sleep 0.5
  done
  registry_ok || { log "the registry did not come up; its log:"; tail -20 "$REG/registry.log" >&2; exit 1; }
fi
log "registry $REGISTRY_ADDR requires auth (401 without, 200 with)"

# --- base image from debootstrap ------------------------------------------------------------------
# The mirror this machine's apt already uses (deb822 .sources first, then sources.list); never a
# host name written here.
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    # Stanzas are separated by blank lines; take the URIs of one that lists a plain suite.
    uri="$(awk -v RS= '/(^|\n)Types:[^\n]*deb([ \n]|$)/ && /(^|\n)Suites:[^\n]*[a-z]/ && !/debian-security/ {
            if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH); sub(/^\n?URIs:[ \t]*/, "", s); print s; exit } }' "$f")"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($i !~ /security/) { print $i; exit } ; break } }' "$f")"
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "base image $BASE_IMAGE exists (cached)"
else
  MIRROR="$(debian_mirror)"
  [ -n "$MIRROR" ] || { log "no Debian mirror found in /etc/apt"; exit 1; }
  ROOTFS="$(mktemp -d "$STATE/rootfs.XXXXXX")"
  trap 'rm -rf "$ROOTFS"' EXIT
  log "debootstrap $SUITE (minbase) from the configured mirror"
  debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$STATE/debootstrap.log" 2>&1 ||
    { log "debootstrap failed; its log:"; tail -30 "$STATE/debootstrap.log" >&2; exit 1; }
  # Smaller and reproducible-ish: no apt lists or caches in the image.
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$ROOTFS/etc/apt/apt.conf.d/90ecs-cwlogs-minimal"
  log "docker import -> $BASE_IMAGE"
  tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$ROOTFS"
  trap - EXIT
fi

# --- environment for the tests ------------------------------------------------------------------
(
  umask 077
  cat >"$ENV_FILE" <<EOF
export ECS_CWLOGS_TEST_BASE_IMAGE=$BASE_IMAGE
export ECS_CWLOGS_TEST_REGISTRY=$REGISTRY_ADDR
export ECS_CWLOGS_TEST_REGISTRY_USER=$REGISTRY_USER
export ECS_CWLOGS_TEST_REGISTRY_PASSWORD=$REGISTRY_PASSWORD
EOF
)
log "ready; environment in $ENV_FILE"
