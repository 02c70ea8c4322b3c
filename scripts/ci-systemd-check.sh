#!/usr/bin/env bash
# CI: `systemd-analyze verify` on packaging/systemd/blitd.service, with the drop-in that
# docs/INSTALL.md has operators write, failing on any complaint about either file (verify itself
# exits 0 after an unknown key or a value it cannot parse: it only warns).
#
# What a container cannot check, and how this copes:
# - verify requires ExecStart's program to exist and be executable, and blitd is not installed in
#   systemd's search path here (the unit names it bare: /usr/local/bin, /usr/bin, /bin): a temporary copy of the unit points ExecStart at this checkout's
#   bin/blitd.js, keeping its arguments (the copy is checked to differ in that path only).
# - The user `blitd` need not exist: verify does not resolve User=/Group= (it is made at install).
# - --man=no: verify would run `man` on Documentation=man:blitd(8), which only an installed
#   package provides.
set -euo pipefail
cd "$(dirname "$0")/.."

unit=packaging/systemd/blitd.service
installed='blitd'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

here="$PWD/bin/blitd.js"
[ -x "$here" ] || { echo "ci-systemd-check: $here is not executable" >&2; exit 1; }
grep -q "^ExecStart=$installed --config /etc/blit/config.toml\$" "$unit" || {
  echo "ci-systemd-check: $unit: ExecStart is not '$installed --config /etc/blit/config.toml'" >&2
  exit 1
}
sed "s|^ExecStart=$installed |ExecStart=\"$here\" |" "$unit" >"$work/blitd.service"
changed=$(diff "$unit" "$work/blitd.service" | grep -c '^[<>]' || true)
[ "$changed" = 2 ] || { echo "ci-systemd-check: the copy differs in $changed lines, not 1" >&2; exit 1; }

# The drop-in of docs/INSTALL.md ("Install the unit").
mkdir "$work/blitd.service.d"
cat >"$work/blitd.service.d/modules.conf" <<'DROPIN'
[Service]
ReadWritePaths=/srv/backup
DROPIN

status=0
output=$(systemd-analyze verify --man=no "$work/blitd.service" 2>&1) || status=$?
# Complaints about other units of this machine are not ours; any about the unit or the drop-in are.
ours=$(printf '%s\n' "$output" | grep -F -e "$work" -e 'blitd.service' || true)
if [ "$status" -ne 0 ] || [ -n "$ours" ]; then
  echo "ci-systemd-check: systemd-analyze verify $unit (exit $status):" >&2
  printf '%s\n' "${ours:-$output}" | sed "s|$work/|$(dirname "$unit")/|g" >&2
  exit 1
fi
echo "ci-systemd-check: $unit verified ($(systemd-analyze --version | head -n1))"
