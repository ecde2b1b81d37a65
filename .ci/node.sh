#!/usr/bin/env bash
# Node.js 22 or newer for the dev loop and CI, without root and without a system package.
#
#   . .ci/node.sh          # in your shell: puts a Node >= 22.12 first on PATH (installs it once)
#   .ci/node.sh            # prints the directory to put on PATH
#
# When the node on PATH is already >= 22.12 nothing is installed. Otherwise the `node-linux-<arch>`
# package (the official binary, from the npm registry npm is configured with) is installed into
# ${ECS_CWLOGS_NODE_DIR:-$HOME/.cache/ecs-cwlogs-node}. ECS_CWLOGS_NODE_MAJOR picks the major (22).

_ecs_cwlogs_node_ok() { # is "$1" a node >= 22.12?
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null
}

_ecs_cwlogs_node_bin() {
  local sys
  sys=$(command -v node || true)
  if [ -n "$sys" ] && _ecs_cwlogs_node_ok "$sys"; then dirname "$sys"; return 0; fi
  local dir="${ECS_CWLOGS_NODE_DIR:-$HOME/.cache/ecs-cwlogs-node}" major="${ECS_CWLOGS_NODE_MAJOR:-22}" arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node.sh: no node-linux package for $(uname -m); install Node >= 22.12 yourself" >&2; return 1 ;;
  esac
  local bin="$dir/node_modules/node-linux-$arch/bin"
  if ! _ecs_cwlogs_node_ok "$bin/node"; then
    command -v npm >/dev/null || { echo "node.sh: npm is needed to fetch Node $major" >&2; return 1; }
    echo "node.sh: installing node-linux-$arch@$major into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$major" >&2 || return 1
    _ecs_cwlogs_node_ok "$bin/node" || { echo "node.sh: $bin/node is not Node >= 22.12" >&2; return 1; }
  fi
  echo "$bin"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: change the caller's PATH.
  if _ecs_cwlogs_node_dir=$(_ecs_cwlogs_node_bin); then
    case ":$PATH:" in *":$_ecs_cwlogs_node_dir:"*) ;; *) export PATH="$_ecs_cwlogs_node_dir:$PATH" ;; esac
    hash -r
  else
    return 1
  fi
  unset _ecs_cwlogs_node_dir
else
  set -euo pipefail
  _ecs_cwlogs_node_bin
fi
