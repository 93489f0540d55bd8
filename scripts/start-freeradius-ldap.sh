#!/bin/bash
# FreeRADIUS 3.2 with rlm_ldap (Debian freeradius-ldap) doing the password check against an LDAP
# server, for `npm run bench -- login`: authorize searches the user (uid) with the service account
# on a pooled connection, Auth-Type LDAP binds as the user, and a good password gets an
# Access-Challenge with a State (the shape of MFA Box's step 1). Message-Authenticator required on
# requests and sent on every reply. Foreground (-f), as the current user: the caller owns the pid.
# usage: PORT=18121 SECRET=testing123 DIR=$(mktemp -d) LDAP_HOST=127.0.0.1 LDAP_PORT=389 \
#        START_TLS=yes CA_FILE=ca.pem BASE=dc=example,dc=com SERVICE_DN=... SERVICE_PW=... \
#        scripts/start-freeradius-ldap.sh [-X]
set -euo pipefail
DIR=${DIR:-${TMPDIR:-/tmp}/peers/fr-ldap}; PORT=${PORT:-18121}; SECRET=${SECRET:-testing123}
START_TLS=${START_TLS:-yes}
. "$(dirname "$0")/freeradius-common.sh"
fr_fresh_dir
fr_write_core 8 32
cat >> "$DIR/raddb/radiusd.conf" <<C
modules {
  # in FR3 the bare return-code words are rlm_always instances
  always ok {
    rcode = ok
  }
  always handled {
    rcode = handled
  }
  ldap {
    server = '$LDAP_HOST'
    port = $LDAP_PORT
    identity = '$SERVICE_DN'
    password = '$SERVICE_PW'
    base_dn = '$BASE'
    user {
      base_dn = '$BASE'
      filter = "(&(objectClass=inetOrgPerson)(uid=%{User-Name}))"
      scope = 'sub'
    }
    options {
      chase_referrals = no
      rebind = no
      res_timeout = 3
      srv_timelimit = 3
      net_timeout = 2
      idle = 60
      probes = 3
      interval = 3
      ldap_debug = 0x0000
    }
    tls {
      start_tls = $START_TLS
      ca_file = '${CA_FILE:-}'
      require_cert = 'demand'
    }
    pool {
      start = 8
      min = 8
      max = 32
      spare = 16
      uses = 0
      retry_delay = 1
      lifetime = 0
      idle_timeout = 0
    }
  }
}

server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $PORT
  }
  authorize {
    ldap
    if ((ok || updated) && &User-Password) {
      update control {
        &Auth-Type := ldap
      }
    }
  }
  authenticate {
    Auth-Type LDAP {
      ldap
      if (ok) {
        # The shape of MFA Box's step 1: a good password gets a challenge, not an Accept.
        update reply {
          &State := 0x6162636431323334
          &Reply-Message := "Enter the code sent by SMS"
          &Message-Authenticator := 0x00
        }
        update control {
          &Response-Packet-Type := Access-Challenge
        }
        handled
      }
    }
  }
  post-auth {
    Post-Auth-Type REJECT {
      update reply {
        &Message-Authenticator := 0x00
      }
      ok
    }
  }
}
C
fr_exec "$@"
