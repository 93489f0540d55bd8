#!/usr/bin/env bash
# A throw-away OpenLDAP (slapd 2.5) for tests, the benchmark and manual trials. Loopback only.
#
#   DIR=/tmp/x LDAP_PORT=0 LDAPS_PORT=0 BULK_USERS=1100 scripts/start-slapd.sh
#
# Env (all optional):
#   DIR          working dir (wiped first; default: a new mktemp dir)
#   LDAP_PORT    ldap:// port with StartTLS (0 or unset: a free one)
#   LDAPS_PORT   ldaps:// port (0 or unset: a free one)
#   BULK_USERS   extra users bulk0000… with a mobile, all in the group (default 0), loaded in one LDIF
#   WATCH_PID    if set, slapd stops when that process is gone (tests pass their own pid)
#   SLAPD_DEBUG  slapd -d level (default 0); 256 (stats) logs every operation to DIR/slapd.log
#
# Prints KEY=VALUE facts (LDAP_URL, LDAPS_URL, CA_FILE, WRONG_CA_FILE, BASE, ADMIN_DN, ADMIN_PW,
# USER_PW, GROUP_DN, SLAPD_PID) and then a line READY. Stays in the foreground; SIGTERM/SIGINT/EXIT
# stop slapd. Data: memberof (+refint) overlays, ppolicy (carol is locked = the disabled equivalent;
# gina's password was reset by an admin: pwdReset, she must change it);
# OpenLDAP's memberOf is direct membership only, so no nested groups here.
set -euo pipefail
command -v slapd >/dev/null || PATH=$PATH:/usr/sbin
DIR=${DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mfabox-slapd.XXXXXX")}
BASE=${BASE:-dc=example,dc=com}
ADMIN_PW=${ADMIN_PW:-adminpw}
USER_PW=${USER_PW:-Secret-1}
BULK_USERS=${BULK_USERS:-0}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
[ "${LDAP_PORT:-0}" = 0 ] && LDAP_PORT=$(free_port)
[ "${LDAPS_PORT:-0}" = 0 ] && LDAPS_PORT=$(free_port)

# Idempotent: a previous slapd in the same DIR is stopped and its data wiped.
if [ -f "$DIR/slapd.bgpid" ]; then kill "$(cat "$DIR/slapd.bgpid")" 2>/dev/null || true; sleep 0.3; fi
rm -rf "$DIR"; mkdir -p "$DIR/db"

SLAPD_PID=""
cleanup() {
  if [ -n "$SLAPD_PID" ]; then kill "$SLAPD_PID" 2>/dev/null || true; wait "$SLAPD_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 0' TERM INT HUP

# A CA and a server cert signed by it (SAN 127.0.0.1 + localhost), plus an unrelated CA for the
# "wrong CA is refused" test.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=MFA Box test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$DIR/key.pem" -out "$DIR/req.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$DIR/ext.cnf"
openssl x509 -req -in "$DIR/req.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial -days 30 \
  -extfile "$DIR/ext.cnf" -out "$DIR/cert.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Some other CA" \
  -keyout "$DIR/wrong-ca.key" -out "$DIR/wrong-ca.pem" 2>/dev/null

cat > "$DIR/slapd.conf" <<C
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
moduleload ppolicy
pidfile  $DIR/slapd.pid
argsfile $DIR/slapd.args
TLSCertificateFile    $DIR/cert.pem
TLSCertificateKeyFile $DIR/key.pem
sizelimit 500
database mdb
suffix "$BASE"
rootdn "cn=admin,$BASE"
rootpw $(slappasswd -s "$ADMIN_PW")
directory $DIR/db
maxsize 1073741824
index objectClass eq
index uid,mail,mobile,cn,memberOf eq
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay refint
refint_attributes member
overlay ppolicy
ppolicy_default "cn=default,ou=policies,$BASE"
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
limits dn.exact="cn=mfabox,ou=service,$BASE" size.soft=500 size.hard=unlimited size.pr=1000 size.prtotal=unlimited
# Operation counters (cn=Operations,cn=Monitor) for the login bench's LDAP operations per request.
database monitor
access to * by dn.exact="cn=admin,$BASE" read by * none
C
slaptest -u -f "$DIR/slapd.conf" >/dev/null 2>&1

PW=$(slappasswd -s "$USER_PW")
{
  cat <<L
dn: $BASE
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,$BASE
objectClass: organizationalUnit
ou: people

dn: ou=service,$BASE
objectClass: organizationalUnit
ou: service

dn: ou=groups,$BASE
objectClass: organizationalUnit
ou: groups

dn: ou=policies,$BASE
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$BASE
objectClass: organizationalRole
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMustChange: TRUE

dn: cn=mfabox,ou=service,$BASE
objectClass: person
cn: mfabox
sn: service account
userPassword: $(slappasswd -s service-pw)

dn: uid=alice,ou=people,$BASE
objectClass: inetOrgPerson
uid: alice
cn: Alice Example
sn: Example
displayName: Alice Example
mail: alice@example.com
mobile: +49 151 12345678
telephoneNumber: +49 30 1234567
userPassword: $PW
memberOf: cn=MFA Users,ou=groups,$BASE
memberOf: cn=Staff,ou=groups,$BASE

dn: uid=bob,ou=people,$BASE
objectClass: inetOrgPerson
uid: bob
cn: Bob Example
sn: Example
mobile: 0151 87654321
userPassword: $PW
memberOf: cn=MFA Users,ou=groups,$BASE

dn: uid=carol,ou=people,$BASE
objectClass: inetOrgPerson
uid: carol
cn: Carol Locked
sn: Locked
mobile: +4915100000003
userPassword: $PW
memberOf: cn=MFA Users,ou=groups,$BASE
pwdAccountLockedTime: 000001010000Z

dn: uid=dave,ou=people,$BASE
objectClass: inetOrgPerson
uid: dave
cn: Dave NoMobile
sn: NoMobile
userPassword: $PW
memberOf: cn=MFA Users,ou=groups,$BASE

dn: uid=erin,ou=people,$BASE
objectClass: inetOrgPerson
uid: erin
cn: Erin BadNumber
sn: BadNumber
mobile: 12
userPassword: $PW
memberOf: cn=MFA Users,ou=groups,$BASE

dn: uid=frank,ou=people,$BASE
objectClass: inetOrgPerson
uid: frank
cn: Frank Outside
sn: Outside
mobile: +4915100000006
userPassword: $PW
memberOf: cn=Staff,ou=groups,$BASE

dn: cn=O'Neil\\, Kim (Ops),ou=people,$BASE
objectClass: inetOrgPerson
uid: kim
cn: O'Neil, Kim (Ops)
sn: O'Neil
mobile: +4915100000010
userPassword: $PW
memberOf: cn=Staff,ou=groups,$BASE

dn: uid=gina,ou=people,$BASE
objectClass: inetOrgPerson
uid: gina
cn: Gina MustChange
sn: MustChange
mobile: +4915100000007
userPassword: $PW
memberOf: cn=MFA Users,ou=groups,$BASE
pwdReset: TRUE

L
  awk -v n="$BULK_USERS" -v base="$BASE" -v pw="$PW" 'BEGIN { for (i = 1; i <= n; i++)
    printf "dn: uid=bulk%05d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: bulk%05d\ncn: Bulk %05d\nsn: Bulk\nmobile: +4915199%06d\nuserPassword: %s\nmemberOf: cn=MFA Users,ou=groups,%s\n\n", i, base, i, i, i, pw, base }'
  printf 'dn: cn=MFA Users,ou=groups,%s\nobjectClass: groupOfNames\ncn: MFA Users\n' "$BASE"
  for u in alice bob carol dave erin gina; do printf 'member: uid=%s,ou=people,%s\n' "$u" "$BASE"; done
  awk -v n="$BULK_USERS" -v base="$BASE" 'BEGIN { for (i = 1; i <= n; i++) printf "member: uid=bulk%05d,ou=people,%s\n", i, base }'
  printf '\ndn: cn=Staff,ou=groups,%s\nobjectClass: groupOfNames\ncn: Staff\nmember: uid=frank,ou=people,%s\nmember: uid=alice,ou=people,%s\nmember: cn=O'"'"'Neil\\, Kim (Ops),ou=people,%s\n\n' "$BASE" "$BASE" "$BASE" "$BASE"
} > "$DIR/data.ldif"
# Loaded offline with slapadd before slapd starts: seconds faster than ldapadd through the memberof
# overlay for 10,000 members. Tool mode runs no overlays, so memberOf (operational) and carol's
# ppolicy lock are written directly, exactly as the overlays would have stored them.
slapadd -q -f "$DIR/slapd.conf" -l "$DIR/data.ldif" >"$DIR/load.log" 2>&1 || { cat "$DIR/load.log" >&2; exit 1; }

slapd -f "$DIR/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/" -d "${SLAPD_DEBUG:-0}" >"$DIR/slapd.log" 2>&1 &
SLAPD_PID=$!
echo "$SLAPD_PID" > "$DIR/slapd.bgpid"
for _ in $(seq 1 100); do
  ldapsearch -x -H "ldap://127.0.0.1:$LDAP_PORT" -s base -b "" namingContexts >/dev/null 2>&1 && break
  kill -0 "$SLAPD_PID" 2>/dev/null || { echo "slapd died: $(cat "$DIR/slapd.log")" >&2; exit 1; }
  sleep 0.05
done

cat <<F
LDAP_URL=ldap://127.0.0.1:$LDAP_PORT
LDAPS_URL=ldaps://127.0.0.1:$LDAPS_PORT
CA_FILE=$DIR/ca.pem
WRONG_CA_FILE=$DIR/wrong-ca.pem
BASE=$BASE
ADMIN_DN=cn=admin,$BASE
ADMIN_PW=$ADMIN_PW
SERVICE_DN=cn=mfabox,ou=service,$BASE
SERVICE_PW=service-pw
USER_PW=$USER_PW
GROUP_DN=cn=MFA Users,ou=groups,$BASE
SLAPD_PID=$SLAPD_PID
DIR=$DIR
READY
F

while kill -0 "$SLAPD_PID" 2>/dev/null; do
  if [ -n "${WATCH_PID:-}" ] && ! kill -0 "$WATCH_PID" 2>/dev/null; then exit 0; fi
  sleep 1 & wait $! || true
done
echo "slapd exited: $(tail -5 "$DIR/slapd.log")" >&2
exit 1
