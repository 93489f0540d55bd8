#!/usr/bin/env bash
# A throw-away Samba AD DC (Debian samba 4.17) on 127.0.0.1 for tests and manual trials.
# LDAP 389 (StartTLS) / LDAPS 636 are fixed by Samba: needs root, and only one may run at a time.
#
#   DIR=/tmp/ad BULK_USERS=1100 scripts/start-samba-ad.sh
#
# Env (all optional):
#   DIR         working dir (wiped first; default: a new mktemp dir)
#   BULK_USERS  extra enabled users bulk0001… with a mobile, members of a nested group (default 0)
#   WATCH_PID   if set, Samba stops when that process is gone (tests pass their own pid)
#
# Prints KEY=VALUE facts (LDAP_URL, LDAPS_URL, CA_FILE, WRONG_CA_FILE, BASE, REALM, DOMAIN, ADMIN_UPN,
# ADMIN_PW, USER_PW, GROUP_DN, SAMBA_PID) and READY, then stays in the foreground; SIGTERM/SIGINT/EXIT
# stop Samba. Users (all with password $USER_PW):
#   alice  direct member of "MFA Users", mobile + otherMobile
#   bob    member through the nested group "VPN Team" (member of "MFA Users"), national-format mobile
#   carol  disabled (userAccountControl 0x2)          dave   must change password (pwdLastSet=0 → 773)
#   erin   account expired (accountExpires → 701)     gina   in the group, no mobile
#   henry  locked out (lockoutTime now → 775)         frank  not in the group
#   jdoe   UPN john.doe@<realm> (not sAMAccountName@realm), in the group
# Everything is added with one ldbadd LDIF: samba-tool costs ~0.45 s per call.
set -euo pipefail
PATH=$PATH:/usr/sbin
DIR=${DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mfabox-samba.XXXXXX")}
REALM=${REALM:-MFA.TEST}
DOMAIN=${DOMAIN:-MFA}
REALM_LC=$(echo "$REALM" | tr 'A-Z' 'a-z')
BASE=$(echo "$REALM_LC" | sed 's/^/DC=/; s/\./,DC=/g')
ADMIN_PW=${ADMIN_PW:-'Adm1nPassw0rd!'}
USER_PW=${USER_PW:-'Us3rPassw0rd!'}
BULK_USERS=${BULK_USERS:-0}

[ "$(id -u)" -eq 0 ] || { echo "start-samba-ad.sh: needs root (Samba's LDAP ports 389/636 are fixed)" >&2; exit 1; }

# Idempotent: a previous Samba from the same DIR is stopped first.
if [ -f "$DIR/samba.bgpid" ]; then kill "$(cat "$DIR/samba.bgpid")" 2>/dev/null || true; sleep 1; fi
rm -rf "$DIR"; mkdir -p "$DIR/tls" "$DIR/log"

SAMBA_PID=""
cleanup() {
  if [ -n "$SAMBA_PID" ]; then
    kill "$SAMBA_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SAMBA_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SAMBA_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 0' TERM INT HUP

# Our own CA + server cert (SAN 127.0.0.1, localhost, dc1.<realm>): Samba's own cert has no SAN.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=MFA Box test AD CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$DIR/tls/ca.key" -out "$DIR/tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=dc1.$REALM_LC" -keyout "$DIR/tls/key.pem" -out "$DIR/tls/req.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,DNS:dc1.%s,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$REALM_LC" > "$DIR/tls/ext.cnf"
openssl x509 -req -in "$DIR/tls/req.csr" -CA "$DIR/tls/ca.pem" -CAkey "$DIR/tls/ca.key" -CAcreateserial -days 30 \
  -extfile "$DIR/tls/ext.cnf" -out "$DIR/tls/cert.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Some other CA" \
  -keyout "$DIR/tls/wrong-ca.key" -out "$DIR/tls/wrong-ca.pem" 2>/dev/null
chmod 600 "$DIR/tls/key.pem"

samba-tool domain provision --use-rfc2307 --realm="$REALM" --domain="$DOMAIN" \
  --server-role=dc --dns-backend=NONE --adminpass="$ADMIN_PW" --targetdir="$DIR" \
  --host-name=dc1 --host-ip=127.0.0.1 \
  --option="interfaces = lo" --option="bind interfaces only = yes" \
  --option="server services = ldap" \
  --option="log file = $DIR/log/log.%m" --option="panic action = " \
  --option="tls enabled = yes" --option="tls keyfile = $DIR/tls/key.pem" \
  --option="tls certfile = $DIR/tls/cert.pem" --option="tls cafile = $DIR/tls/ca.pem" \
  >"$DIR/provision.log" 2>&1 || { cat "$DIR/provision.log" >&2; exit 1; }
CONF="$DIR/etc/smb.conf"; SAM="$DIR/private/sam.ldb"

# unicodePwd is the password in UTF-16LE inside double quotes, base64 in LDIF.
upwd() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }
PWB64=$(upwd "$USER_PW")
user() { # sam, extra attribute lines
  printf 'dn: CN=%s,CN=Users,%s\nobjectClass: user\nsAMAccountName: %s\nuserPrincipalName: %s@%s\ndisplayName: %s\nunicodePwd:: %s\nuserAccountControl: 512\n%s\n\n' \
    "$1" "$BASE" "$1" "$1" "$REALM_LC" "$1" "$PWB64" "${2:-}"
}
{
  user alice "$(printf 'mobile: +49 151 12345678\notherMobile: +49 160 5550001\nmail: alice@example.org\n')"
  user bob "mobile: 0151 87654321"
  user carol "mobile: +4915100000003"
  user dave "mobile: +4915100000004"
  user erin "mobile: +4915100000005"
  user frank "mobile: +4915100000006"
  user gina ""
  user henry "mobile: +4915100000008"
  printf 'dn: CN=John Doe,CN=Users,%s\nobjectClass: user\nsAMAccountName: jdoe\nuserPrincipalName: john.doe@%s\ndisplayName: John Doe\nunicodePwd:: %s\nuserAccountControl: 512\nmobile: +4915100000009\n\n' \
    "$BASE" "$REALM_LC" "$PWB64"
  awk -v n="$BULK_USERS" -v base="$BASE" 'BEGIN { for (i = 1; i <= n; i++)
    printf "dn: CN=bulk%05d,CN=Users,%s\nobjectClass: user\nsAMAccountName: bulk%05d\nuserAccountControl: 544\nmobile: +4915199%06d\n\n", i, base, i, i }'
  printf 'dn: CN=VPN Team,CN=Users,%s\nobjectClass: group\nsAMAccountName: VPN Team\nmember: CN=bob,CN=Users,%s\n' "$BASE" "$BASE"
  awk -v n="$BULK_USERS" -v base="$BASE" 'BEGIN { for (i = 1; i <= n; i++) printf "member: CN=bulk%05d,CN=Users,%s\n", i, base }'
  printf '\ndn: CN=MFA Users,CN=Users,%s\nobjectClass: group\nsAMAccountName: MFA Users\n' "$BASE"
  for u in alice carol dave erin gina henry 'John Doe'; do printf 'member: CN=%s,CN=Users,%s\n' "$u" "$BASE"; done
  printf 'member: CN=VPN Team,CN=Users,%s\n\n' "$BASE"
  printf 'dn: CN=mfabox-svc,CN=Users,%s\nobjectClass: user\nsAMAccountName: mfabox-svc\nuserPrincipalName: mfabox-svc@%s\nunicodePwd:: %s\nuserAccountControl: 66048\n\n' \
    "$BASE" "$REALM_LC" "$(upwd 'Svc-Passw0rd!')"
} >"$DIR/data.ldif"
ldbadd -H "$SAM" "$DIR/data.ldif" >"$DIR/load.log" 2>&1 || { cat "$DIR/load.log" >&2; exit 1; }
# carol disabled, dave must change at next logon, erin expired in 2012 (FILETIME), henry locked out
# now (lockoutTime, with a domain lockout policy so it counts).
NOW_FILETIME=$(( ($(date +%s) + 11644473600) * 10000000 ))
ldbmodify -H "$SAM" >>"$DIR/load.log" 2>&1 <<L
dn: $BASE
changetype: modify
replace: lockoutThreshold
lockoutThreshold: 5
-
replace: lockoutDuration
lockoutDuration: -18000000000
-
replace: lockOutObservationWindow
lockOutObservationWindow: -18000000000

dn: CN=henry,CN=Users,$BASE
changetype: modify
replace: lockoutTime
lockoutTime: $NOW_FILETIME

dn: CN=carol,CN=Users,$BASE
changetype: modify
replace: userAccountControl
userAccountControl: 514

dn: CN=dave,CN=Users,$BASE
changetype: modify
replace: pwdLastSet
pwdLastSet: 0

dn: CN=erin,CN=Users,$BASE
changetype: modify
replace: accountExpires
accountExpires: 129000000000000000
L

samba -i -M single -s "$CONF" --debuglevel=1 >"$DIR/samba.out" 2>&1 &
SAMBA_PID=$!
echo "$SAMBA_PID" >"$DIR/samba.bgpid"
for _ in $(seq 1 200); do
  LDAPTLS_CACERT="$DIR/tls/ca.pem" ldapsearch -x -H ldaps://127.0.0.1:636 -s base -b "" >/dev/null 2>&1 && break
  kill -0 "$SAMBA_PID" 2>/dev/null || { echo "samba died: $(tail -20 "$DIR/samba.out")" >&2; exit 1; }
  sleep 0.1
done

cat <<F
LDAP_URL=ldap://127.0.0.1:389
LDAPS_URL=ldaps://127.0.0.1:636
CA_FILE=$DIR/tls/ca.pem
WRONG_CA_FILE=$DIR/tls/wrong-ca.pem
BASE=$BASE
REALM=$REALM
DOMAIN=$DOMAIN
ADMIN_UPN=Administrator@$REALM_LC
ADMIN_PW=$ADMIN_PW
SERVICE_UPN=mfabox-svc@$REALM_LC
SERVICE_PW=Svc-Passw0rd!
USER_PW=$USER_PW
GROUP_DN=CN=MFA Users,CN=Users,$BASE
SAMBA_PID=$SAMBA_PID
DIR=$DIR
READY
F

while kill -0 "$SAMBA_PID" 2>/dev/null; do
  if [ -n "${WATCH_PID:-}" ] && ! kill -0 "$WATCH_PID" 2>/dev/null; then exit 0; fi
  sleep 1 & wait $! || true
done
echo "samba exited: $(tail -5 "$DIR/samba.out")" >&2
exit 1
