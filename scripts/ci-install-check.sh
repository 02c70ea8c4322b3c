#!/usr/bin/env bash
# CI: the package a user installs works. Packs this tree (`npm pack`), checks that only what the
# installed commands need is in the tarball, installs it globally into a temporary prefix, and runs
# the INSTALLED `blit` and `blitd` from a directory outside the repository: --version, a local copy,
# a push to and a pull from the installed daemon, each result compared with its source. It does this
# twice: once as is (the native addon must build: CI has a compiler), and once on a PATH that holds
# only node, npm and sh, as on a machine with Node and nothing else: the install must still succeed
# and blit must run on its pure-JS path. Every wait is bounded; the daemons it starts are stopped by
# pid and the temporary directory is removed, whatever happens.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/blit-install-check.XXXXXX")
daemon_pid=
command_env=() # the environment the installed commands run in (check_install sets it)

stop_daemon() {
  [ -n "$daemon_pid" ] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "ci-install-check: blitd (pid $daemon_pid) ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=
}
cleanup() {
  stop_daemon
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() { echo "ci-install-check: $*"; }
fail() {
  echo "ci-install-check: FAIL: $*" >&2
  exit 1
}

# What may ship: the launchers, the bundles and their code cache, the addon's sources and the two
# install-time scripts (npm adds package.json and README.md itself). Anything else (tests, sources,
# source maps, build output, single executables) fails here: add it below only if users need it.
shipped='^package/(package\.json|README\.md|bin/(blit\.js|blitd\.js|package\.json)|dist/[A-Za-z0-9_-]+\.(js|cjs)|dist/[a-z-]+\.cjs(\.remote)?\.cache|native/(binding\.gyp|[a-z_]+\.(cc|h))|scripts/(build-native|write-code-cache)\.mjs|man/(blit\.1|blitd\.8|blitd\.toml\.5)|packaging/systemd/[a-z.-]+)$'

# A tree with a subdirectory, an empty one, a symbolic link, a name with a space, an executable, an
# old modification time and some binary data: what a copy has to carry over.
make_tree() {
  local dir=$1
  mkdir -p "$dir/sub/deeper" "$dir/empty"
  printf 'top\n' >"$dir/top.txt"
  printf 'spaced out\n' >"$dir/name with space.txt"
  head -c 300000 /dev/urandom >"$dir/sub/data.bin"
  printf '#!/bin/sh\necho hi\n' >"$dir/sub/deeper/run.sh"
  chmod 755 "$dir/sub/deeper/run.sh"
  chmod 640 "$dir/top.txt"
  ln -s sub/data.bin "$dir/link to data"
  touch -h -d '2020-01-02 03:04:05' "$dir/top.txt" "$dir/sub/data.bin"
}

# Type, mode, size, whole-second mtime of files; mode of directories; target of links.
manifest() {
  (
    cd "$1"
    {
      find . -mindepth 1 -type f -printf '%P\tfile\t%m\t%s\t%T@\n' | sed -E 's/\.[0-9]+$//'
      find . -mindepth 1 -type d -printf '%P\tdir\t%m\n'
      find . -mindepth 1 -type l -printf '%P\tlink\t%l\n'
    } | LC_ALL=C sort
  )
}

# DST must hold exactly SRC: the same entries, modes, mtimes and link targets, the same bytes.
same_tree() {
  local src=$1 dst=$2 what=$3
  [ -d "$dst" ] || fail "$what: $dst is missing"
  if ! diff -u <(manifest "$src") <(manifest "$dst") >"$work/diff.txt"; then
    cat "$work/diff.txt" >&2
    fail "$what: $dst differs from $src (entries, modes, mtimes or link targets above)"
  fi
  if ! diff -r --no-dereference "$src" "$dst" >"$work/diff.txt"; then
    cat "$work/diff.txt" >&2
    fail "$what: $dst differs from $src (contents above)"
  fi
}

# Runs a command by name on the PATH a user of the prefix has ($command_env), with a bounded time;
# its output is kept in $work/out.txt.
run() {
  local what=$1
  shift
  if ! timeout 120 env "${command_env[@]}" "$@" >"$work/out.txt" 2>&1; then
    cat "$work/out.txt" >&2
    fail "$what: \`$*\` failed"
  fi
}

# Installs the tarball into a prefix and checks the installed commands. The install and the
# commands run with the PATH in base_path and the variables in install_env (the second pass takes
# the compiler away there); the commands find blit and blitd through PREFIX/bin on their PATH.
check_install() {
  local label=$1 expect_ops=$2
  local prefix="$work/$label/prefix" cwd="$work/$label/cwd"
  mkdir -p "$prefix" "$cwd"
  # --foreground-scripts: the log shows what blit's install step said. --allow-scripts: an npm that
  # runs no unlisted install scripts names a tarball's by its path.
  step "$label: npm install -g --prefix $prefix $(basename "$tarball")"
  if ! (cd "$cwd" && timeout 600 env "PATH=$base_path" "${install_env[@]}" \
    npm install -g --prefix "$prefix" --no-audit --no-fund --prefer-offline \
    --foreground-scripts --allow-scripts="$tarball" "$tarball") >"$work/$label/install.log" 2>&1; then
    cat "$work/$label/install.log" >&2
    fail "$label: npm install -g of the tarball failed"
  fi
  command_env=("PATH=$prefix/bin:$base_path" "${install_env[@]}")
  for command in blit blitd; do
    [ "$(env "${command_env[@]}" sh -c "command -v $command")" = "$prefix/bin/$command" ] ||
      fail "$label: $command is not on the PATH as $prefix/bin/$command"
    case "$(readlink -f "$prefix/bin/$command")" in
      "$prefix"/*) ;;
      *) fail "$label: $prefix/bin/$command leads outside the prefix" ;;
    esac
  done
  cd "$cwd"

  run "$label: blit --version" blit --version
  local version
  version=$(cat "$work/out.txt")
  step "$label: $version"
  [ "$version" = "blit $package_version (file operations: $expect_ops)" ] ||
    fail "$label: blit --version said '$version', expected file operations: $expect_ops"
  run "$label: blitd --version" blitd --version
  [ "$(cat "$work/out.txt")" = "blitd $package_version" ] ||
    fail "$label: blitd --version said '$(cat "$work/out.txt")'"

  local src="$cwd/src"
  make_tree "$src"
  run "$label: local copy" blit copy "$src/" "$cwd/local copy"
  same_tree "$src" "$cwd/local copy" "$label: local copy"
  step "$label: local copy verified"

  local module="$cwd/module" log="$work/$label/blitd.log"
  mkdir -p "$module"
  : >"$log" # exists before the daemon's own redirection opens it: the loop below reads it at once
  env "${command_env[@]}" blitd --root "$module" --bind 127.0.0.1 --port 0 \
    --state-dir "$work/$label/state" >"$log" 2>&1 &
  daemon_pid=$!
  local port=
  for _ in $(seq 300); do
    port=$(sed -nE '/"msg":"listening"/{s/.*"port":([0-9]+).*/\1/p;q}' "$log")
    [ -n "$port" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || {
      cat "$log" >&2
      fail "$label: blitd exited before listening"
    }
    sleep 0.1
  done
  [ -n "$port" ] || {
    cat "$log" >&2
    fail "$label: blitd logged no 'listening' line within 30 s"
  }
  grep -q "\"fileOperations\":\"$expect_ops\"" "$log" || {
    cat "$log" >&2
    fail "$label: blitd does not report file operations: $expect_ops"
  }
  step "$label: blitd (pid $daemon_pid) listening on 127.0.0.1:$port"

  run "$label: push" blit copy "$src/" "127.0.0.1:$port:/default/dst/"
  same_tree "$src" "$module/dst" "$label: push"
  step "$label: push verified"
  run "$label: pull" blit copy "127.0.0.1:$port:/default/dst/" "$cwd/pulled"
  same_tree "$src" "$cwd/pulled" "$label: pull"
  step "$label: pull verified"

  stop_daemon
  cd "$work"
}

package_version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
step "npm pack"
mkdir -p "$work/pack"
(cd "$repo" && timeout 600 npm pack --pack-destination "$work/pack") >"$work/pack.log" 2>&1 || {
  cat "$work/pack.log" >&2
  fail "npm pack failed"
}
tarball="$work/pack/blit-$package_version.tgz"
[ -f "$tarball" ] || fail "npm pack made no $tarball"
unexpected=$(tar -tzf "$tarball" | grep -vE "$shipped" || true)
[ -z "$unexpected" ] || fail "files in the package that should not ship: $(echo "$unexpected" | tr '\n' ' ')"
for needed in bin/blit.js bin/blitd.js dist/blit.cjs dist/blitd.js native/binding.gyp; do
  tar -tzf "$tarball" "package/$needed" >/dev/null 2>&1 || fail "the package lacks $needed"
done
step "$(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) files, $(du -k "$tarball" | cut -f1) KiB"

# The installed commands must not borrow anything from this checkout or the caller's settings.
export XDG_CONFIG_HOME="$work/config"
unset NODE_PATH BLIT_NO_NATIVE BLIT_SKIP_NATIVE_BUILD || true

base_path=$PATH
install_env=()
check_install with-compiler 'native addon'

# A machine with Node and nothing else: no compiler, make or Python on the PATH.
mkdir -p "$work/bare-bin"
for tool in node npm sh; do
  ln -s "$(command -v "$tool")" "$work/bare-bin/$tool"
done
base_path=$work/bare-bin
install_env=("CXX=$work/missing/c++" "CC=$work/missing/cc")
check_install no-compiler 'pure JS (native addon not built)'
said=$(grep -m1 'blit: native addon not built (not found: ' "$work/no-compiler/install.log") ||
  fail "no-compiler: the install log does not say which tools were missing"
step "no-compiler: the install said: $said"

step "OK"
