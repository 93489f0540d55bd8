#!/usr/bin/env bash
# Installs the real peers the tests and benchmarks talk to, if they are missing. Idempotent:
# a second run installs nothing. Usage: scripts/ensure-peers.sh [radius|freeradius|freeradius-ldap|socat|ldap|samba|gammu|smstools|chromium|systemd|cross|faketime|mmdb|all]...
set -euo pipefail
want=("$@"); [ ${#want[@]} -eq 0 ] && want=(all)

declare -A PKGS=(
  [radius]="freeradius-utils"
  [freeradius]="freeradius"
  [freeradius-ldap]="freeradius freeradius-ldap"
  [socat]="socat"
  [ldap]="slapd ldap-utils"
  [samba]="samba samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind ldb-tools ldap-utils"
  [gammu]="gammu python3-gammu"
  [smstools]="smstools"
  [chromium]="chromium"
  # systemd-analyze verify/security and systemd-notify for the unit and watchdog tests
  [systemd]="systemd"
  # build-release: cross-compiles epoll (onoff) for the Pi; `file` checks the result is aarch64
  [cross]="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu file xz-utils"
  # the reliability suite's clock jump: libfaketime moves the wall clock of the running box
  [faketime]="faketime libfaketime"
  # the GeoIP test: MaxMind's own .mmdb writer (Perl) builds a tiny database; mmdblookup (libmaxminddb) cross-checks it
  [mmdb]="libmaxmind-db-writer-perl mmdb-bin"
)
# A binary or file that proves each group is installed.
declare -A PROBE=(
  [radius]="/usr/bin/radclient"
  [freeradius]="/usr/sbin/freeradius"
  [freeradius-ldap]="/usr/lib/freeradius/rlm_ldap.so"
  [socat]="/usr/bin/socat"
  [ldap]="/usr/sbin/slapd"
  [samba]="/usr/sbin/samba"
  [gammu]="/usr/lib/python3/dist-packages/gammu/__init__.py"
  [smstools]="/usr/sbin/smsd"
  [chromium]="/usr/bin/chromium"
  [systemd]="/usr/bin/systemd-analyze"
  [cross]="/usr/bin/aarch64-linux-gnu-g++"
  [faketime]="/usr/bin/faketime"
  [mmdb]="/usr/bin/mmdblookup"
)
groups=()
for w in "${want[@]}"; do
  if [ "$w" = all ]; then groups+=("${!PKGS[@]}"); else groups+=("$w"); fi
done
missing=()
for g in "${groups[@]}"; do
  [ -n "${PKGS[$g]:-}" ] || { echo "ensure-peers: unknown peer '$g'" >&2; exit 2; }
  [ -e "${PROBE[$g]}" ] || missing+=(${PKGS[$g]})
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null && SUDO="sudo -n" || { echo "ensure-peers: need root to install: ${missing[*]}" >&2; exit 1; }
fi
echo "ensure-peers: installing ${missing[*]}" >&2
# Debian asks slapd to build a default database unless told not to; ours are throw-away.
echo 'slapd slapd/no_configuration boolean true' | $SUDO debconf-set-selections
# Only one apt may run at a time: parallel test workers wait on the same lock.
exec 9>/tmp/mfabox-ensure-peers.lock
flock 9
stamp=/var/lib/apt/periodic/mfabox-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
  $SUDO apt-get update -qq >&2 && $SUDO mkdir -p "$(dirname $stamp)" && $SUDO touch "$stamp"
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
