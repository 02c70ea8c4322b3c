#!/usr/bin/env bash
# CI smoke test of the single executables (npm run build:sea): copied alone into an empty
# directory, run from elsewhere with a fresh HOME, they must need nothing of the repository.
# Checks --version (it reports the embedded addon when one was built, and pure JS when the addon
# cannot be extracted), a local mirror, a copy on the worker-thread path (BLIT_NO_NATIVE=1) and its
# stall watchdog, and a push to and a pull from a blitd started from the other binary. Every wait
# is bounded; the daemon is stopped by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

npm run build:sea

work=$(mktemp -d)
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "ci-sea-check: $*" >&2
  exit 1
}

# Same contents, modes and mtimes (rsync -anc lists nothing to do), besides diff -r.
same_tree() {
  diff -r "$1" "$2" || fail "$2 differs from $1"
  local changes
  changes=$(rsync -anc --itemize-changes "$1/" "$2/")
  [ -z "$changes" ] || fail "$2 differs from $1: $changes"
}

mkdir "$work/bin" "$work/home" "$work/cwd"
cp dist/sea/blit dist/sea/blitd "$work/bin/"
export HOME="$work/home"
unset XDG_CACHE_HOME XDG_CONFIG_HOME
cd "$work/cwd"
blit="$work/bin/blit"
blitd="$work/bin/blitd"

version=$("$blit" --version)
echo "$version"
if [ -f "$repo/native/build/Release/blit_native.node" ]; then
  [[ "$version" == *"file operations: native addon (embedded)"* ]] || fail "addon built but not used: $version"
else
  [[ "$version" == *"file operations: pure JS"* ]] || fail "unexpected: $version"
fi
"$blitd" --version
# A cache directory that cannot be made: the addon is not loaded, and blit says why and runs pure JS.
: >"$work/not-a-dir"
fallback=$(XDG_CACHE_HOME="$work/not-a-dir" "$blit" --version)
[[ "$fallback" == *"file operations: pure JS"* ]] || fail "no pure-JS fallback: $fallback"

# A small tree: nested directories, a symlink, an empty file, a file of 1 MiB.
src="$work/src"
mkdir -p "$src/a/b/c" "$src/empty"
for i in $(seq 1 40); do echo "file $i" >"$src/a/f$i.txt"; done
for i in $(seq 1 10); do echo "deep $i" >"$src/a/b/c/g$i"; done
head -c 1048576 /dev/urandom >"$src/big.bin"
: >"$src/zero"
ln -s a/f1.txt "$src/link"
chmod 600 "$src/a/f2.txt"

mkdir "$work/mirror"
echo stale >"$work/mirror/stale"
"$blit" mirror --yes "$src/" "$work/mirror"
same_tree "$src" "$work/mirror"

# Without the addon, copies run on worker threads, whose code the binary embeds.
BLIT_NO_NATIVE=1 "$blit" copy "$src/" "$work/workers"
same_tree "$src" "$work/workers"
# --checksum there hashes with the bundled hash-wasm: same size and mtime, other bytes, copied again.
printf 'FILE 3\n' >"$work/workers/a/f3.txt"
touch -r "$src/a/f3.txt" "$work/workers/a/f3.txt"
BLIT_NO_NATIVE=1 "$blit" copy --checksum "$src/" "$work/workers"
same_tree "$src" "$work/workers"
XDG_CACHE_HOME="$work/not-a-dir" "$blit" copy "$src/" "$work/fallback"
same_tree "$src" "$work/fallback"

# The stall watchdog (a worker thread too) must report a copy worker that hangs.
set +e
stall=$(BLIT_NO_NATIVE=1 BLIT_TEST_HANG=copy:a/f7.txt BLIT_STALL_TIMEOUT_MS=1000 timeout 60 \
  "$blit" copy "$src/" "$work/stalled" 2>&1)
status=$?
set -e
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "stalled copy exited $status: $stall"
[[ "$stall" == *"stalled: no progress"*"a/f7.txt"* ]] || fail "no stall report: $stall"

root="$work/root"
mkdir "$root"
"$blitd" --root "$root" --bind 127.0.0.1 --port 0 >"$work/blitd.log" 2>"$work/blitd.err" &
daemon_pid=$!
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*"port":\([0-9]*\).*"msg":"listening".*/\1/p' "$work/blitd.log")
  [ -n "$port" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "blitd exited: $(cat "$work/blitd.err")"
  sleep 0.1
done
[ -n "$port" ] || fail "blitd did not log 'listening' within 20 s"

"$blit" copy "$src/" "127.0.0.1:$port:/default/dst/"
same_tree "$src" "$root/dst"
"$blit" copy "127.0.0.1:$port:/default/dst/" "$work/pulled"
same_tree "$src" "$work/pulled"

kill -TERM "$daemon_pid"
for _ in $(seq 1 100); do
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$daemon_pid" 2>/dev/null && fail "blitd still running 10 s after SIGTERM"
wait "$daemon_pid" || fail "blitd exited with status $?"
daemon_pid=
echo "ci-sea-check: ok"
