#!/bin/bash
# A self-contained FreeRADIUS 3.2 (Debian bookworm) for tests and `npm run bench -- radius`:
# 127.0.0.1:${PORT:-18120}, PAP users file, Message-Authenticator on every reply, and a
# State/Access-Challenge flow for user "chal" (State 0x6162636431323334 + passcode 123456 → Accept),
# the same shape as MFA Box's passcode step. Runs in the foreground (-f) as the current user, so
# the caller owns the process and kills it by pid.
# usage: PORT=18120 SECRET=testing123 DIR=$(mktemp -d) scripts/start-freeradius.sh [-X]
set -euo pipefail
DIR=${DIR:-${TMPDIR:-/tmp}/peers/fr}; PORT=${PORT:-18120}; SECRET=${SECRET:-testing123}
. "$(dirname "$0")/freeradius-common.sh"
fr_fresh_dir
cat > "$DIR/raddb/users" <<'U'
alice   Cleartext-Password := "alicepw"
        Reply-Message := "Hello alice"
bob     Cleartext-Password := "bobpw"
U
fr_write_core 4 16
cat >> "$DIR/raddb/radiusd.conf" <<C
modules {
  pap {
    normalise = yes
  }
  files {
    filename = $DIR/raddb/users
  }
  # in FR3 the bare return-code words are rlm_always instances
  always handled {
    rcode = handled
  }
  always reject {
    rcode = reject
  }
  always ok {
    rcode = ok
  }
}

server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $PORT
  }
  authorize {
    if (&User-Name == "chal") {
      if (!&State) {
        update reply {
          &Reply-Message := "Enter the code sent by SMS"
          &State := 0x6162636431323334
        }
        update control {
          &Response-Packet-Type := Access-Challenge
        }
        update reply {
          &Message-Authenticator := 0x00
        }
        handled
      }
      elsif ((&State == 0x6162636431323334) && (&User-Password == "123456")) {
        update control {
          &Auth-Type := Accept
        }
        ok
      }
      else {
        reject
      }
    }
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
  post-auth {
    # FR 3.2.1 (pre-BlastRADIUS) does not sign non-EAP replies by itself; this makes it add (and compute)
    # Message-Authenticator on Accept/Reject, as BlastRADIUS-fixed servers (>= 3.2.5) do.
    update reply {
      &Message-Authenticator := 0x00
    }
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
