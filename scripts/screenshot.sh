#!/usr/bin/env bash
# Regenerate the README's picture, docs/up.png: the real binary runs
# `up --sandbox --yes --image example/cloudwatchlogs:latest` in a fresh config directory, in a
# 110-column tmux terminal; the screen is captured with its colours (tmux capture-pane -e) and
# rendered to SVG, then PNG, by test/screenshot/render.ts (rsvg-convert). Then `down --sandbox`.
#
#   npm run screenshot            (or: bash scripts/screenshot.sh [out.png])
#
# Needs tmux and rsvg-convert (Debian: apt-get install tmux librsvg2-bin), and a build (npm run build).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=${1:-docs/up.png}
for tool in tmux rsvg-convert; do
  command -v "$tool" >/dev/null || { echo "screenshot.sh: $tool is needed (Debian: apt-get install tmux librsvg2-bin)" >&2; exit 1; }
done
# shellcheck disable=SC1091
. .ci/node.sh
[ -f dist/test/screenshot/render.js ] && [ -f dist/bundle/ecs-cwlogs.js ] || npm run build

work="${TMPDIR:-/tmp}/ecs-cwlogs-screenshot"   # a stable path: the picture shows the sandbox's state file
rm -rf "$work" && mkdir -p "$work"
session="ecs-cwlogs-screenshot-$$"
cli=(env "ECS_CWLOGS_CONFIG_DIR=$work/config" node "$repo/bin/ecs-cwlogs.js")
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  "${cli[@]}" down --sandbox --yes --delete-logs >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cmd="up --sandbox --yes --image example/cloudwatchlogs:latest"
# The terminal shows the command as a user types it in a clone, then what the binary prints.
cat >"$work/run.sh" <<SH
cd "$repo"
printf '\033[1;32m\$\033[0m npx ecs-cwlogs $cmd\n'
env -u NO_COLOR -u FORCE_COLOR -u CI TERM=xterm-256color ECS_CWLOGS_CONFIG_DIR="$work/config" node bin/ecs-cwlogs.js $cmd
echo \$? >"$work/rc"
sleep 600
SH
tmux new-session -d -s "$session" -x 110 -y 60 "bash $work/run.sh"
for _ in $(seq 1 600); do
  [ -s "$work/rc" ] && break
  sleep 0.2
done
[ -s "$work/rc" ] || { echo "screenshot.sh: up did not finish within 2 minutes; the screen:" >&2; tmux capture-pane -p -t "$session" >&2; exit 1; }
sleep 0.3
tmux capture-pane -p -e -t "$session" >"$work/up.ansi"
rc=$(cat "$work/rc")
[ "$rc" = 0 ] || { echo "screenshot.sh: up exited $rc; the screen:" >&2; cat "$work/up.ansi" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
node dist/test/screenshot/render.js "$work/up.ansi" "$out"
rm -f "${out%.png}.svg"
