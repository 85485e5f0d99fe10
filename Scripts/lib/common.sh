# Scripts/lib/common.sh: helpers shared by Ferry's scripts. Source it after `set -euo pipefail`.
#   ROOT                 the repository root (the scripts cd there)
#   SWIFT_SCRATCH        array: (--scratch-path DIR) when $SWIFT_SCRATCH_PATH is set, else empty
#   ANCHORS              ../shared/anchors (or $FERRY_ANCHORS)
#   start_server NAME CMD...   start a perf server, wait (bounded) for `listening ID@ip:port`, set SERVER_TARGET
#   cleanup_children     kill every server started here (installed as an EXIT trap by `use_cleanup_trap`)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ANCHORS="${FERRY_ANCHORS:-$ROOT/../shared/anchors}"
SWIFT_SCRATCH=()
if [ -n "${SWIFT_SCRATCH_PATH:-}" ]; then SWIFT_SCRATCH=(--scratch-path "$SWIFT_SCRATCH_PATH"); fi
SERVER_STARTUP_TIMEOUT="${SERVER_STARTUP_TIMEOUT:-30}"

CHILD_PIDS=()
WORK_DIRS=()

die() { echo "${0##*/}: $*" >&2; exit 1; }

# Kills every child process started by start_server (TERM, a bounded wait, then KILL) and removes work dirs.
cleanup_children() {
  local pid
  for pid in "${CHILD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${CHILD_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  CHILD_PIDS=()
  local dir
  for dir in "${WORK_DIRS[@]}"; do rm -rf "$dir"; done
  WORK_DIRS=()
}

use_cleanup_trap() {
  trap cleanup_children EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# make_work_dir: prints a new temporary directory removed at exit.
make_work_dir() {
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/ferry-XXXXXX")"
  WORK_DIRS+=("$dir")
  echo "$dir"
}

# start_server NAME STDERR_FILE CMD...: runs CMD with stdout on a pipe, waits up to $SERVER_STARTUP_TIMEOUT
# seconds for its `listening ID@ip:port` line, and sets SERVER_TARGET and SERVER_PID. No fixed sleeps: the
# read returns as soon as the server has bound its socket.
start_server() {
  local name="$1" errfile="$2"; shift 2
  local fd line
  exec {fd}< <(exec "$@" 2>"$errfile")
  SERVER_PID=$!
  CHILD_PIDS+=("$SERVER_PID")
  if ! IFS= read -r -t "$SERVER_STARTUP_TIMEOUT" -u "$fd" line; then
    echo "$name: no 'listening' line within ${SERVER_STARTUP_TIMEOUT}s; stderr:" >&2
    tail -20 "$errfile" >&2 || true
    return 1
  fi
  case "$line" in
    "listening "*@*:*) SERVER_TARGET="${line#listening }" ;;
    *) echo "$name: expected 'listening ID@ip:port', got: $line" >&2; tail -20 "$errfile" >&2 || true; return 1 ;;
  esac
  # Drain any further stdout so the server never blocks on a full pipe.
  cat <&"$fd" >/dev/null &
  CHILD_PIDS+=("$!")
  exec {fd}<&-
}

# release_bin_path: where `swift build -c release` puts executables.
release_bin_path() {
  swift build -c release "${SWIFT_SCRATCH[@]}" --show-bin-path 2>/dev/null | tail -1
}

# json_field NAME: reads one JSON line on stdin and prints the numeric field NAME.
json_field() { grep -o "\"$1\": *[0-9.]*" | head -1 | sed 's/.*: *//'; }
