#!/usr/bin/env bash
# Try ecs-cwlogs with no AWS account, from a clone, wherever it is:
#
#   bash scripts/try.sh                                   # one instance
#   bash scripts/try.sh --instances 3 --load-balancer     # extra options go to `up`: a group behind an ALB
#
# 1. Node.js >= 22.12 on PATH (.ci/node.sh: the official binary from the npm registry, cached in
#    ~/.cache/ecs-cwlogs-node). With no npm at all, Debian's npm is installed first (as root).
# 2. npm ci: the dependencies, and the build (the `prepare` script).
# 3. `up --sandbox --yes`: every step of the lab against the built-in AWS emulator, on this machine
#    only, then `status --sandbox`.
# The stack's sandbox keeps running; the script ends by printing how to look at it and remove it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "try.sh: npm is needed to fetch Node.js 22: install it (Debian: sudo apt-get install npm), then run this again" >&2
    exit 1
  fi
  echo "try.sh: installing npm (apt), to fetch Node.js 22 with"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq npm >/dev/null
fi

# shellcheck disable=SC1091
. .ci/node.sh
echo "try.sh: node $(node --version) ($(command -v node))"

npm ci --no-audit --no-fund --loglevel=error

run() {
  printf '\n$ npx ecs-cwlogs %s\n' "$*"
  npx --no-install ecs-cwlogs "$@"
}
run up --sandbox --yes --image example/cloudwatchlogs:latest "$@"
run status --sandbox

cat <<MSG

That was the whole lab, rehearsed against the built-in AWS emulator on 127.0.0.1: no AWS account,
nothing to pay. The stack's sandbox is still running. From $repo, in a shell with Node 22 (. .ci/node.sh):

  npx ecs-cwlogs status --sandbox                  # each step: absent, in sync or drifted
  npx ecs-cwlogs up --sandbox --dry-run --instances 3 --load-balancer   # what a group behind an ALB would change
  npx ecs-cwlogs down --sandbox --yes              # remove it all, and stop the sandbox

On AWS: npx ecs-cwlogs up (the wizard asks what it needs and shows the plan and its cost first).
MSG
