#!/bin/bash
# A self-contained FreeRADIUS 3.2 (Debian bookworm) for tests and `npm run bench -- radius`:
# 127.0.0.1:${PORT:-18120}, PAP users file, Message-Authenticator on every reply, and a
# State/Access-Challenge flow for user "chal" (State 0x6162636431323334 + passcode 123456 → Accept),
# the same shape as MFA Box's passcode step. Runs in the foreground (-f) as the current user, so
# the caller owns the process and kills it by pid.
# usage: PORT=18120 SECRET=testing123 DIR=$(mktemp -d) scripts/start-freeradius.sh [-X]
set -euo pipefail
DIR=${DIR:-${TMPDIR:-/tmp}/peers/fr}; PORT=${PORT:-18120}; SECRET=${SECRET:-testing123}
rm -rf "$DIR"; mkdir -p "$DIR"/{raddb,log,run}
cat > "$DIR/raddb/users" <<'U'
alice   Cleartext-Password := "alicepw"
        Reply-Message := "Hello alice"
bob     Cleartext-Password := "bobpw"
U
cat > "$DIR/raddb/radiusd.conf" <<C
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $DIR/log
raddbdir = $DIR/raddb
radacctdir = $DIR/log/radacct
name = freeradius
confdir = $DIR/raddb
modconfdir = $DIR/raddb
run_dir = $DIR/run
db_dir = $DIR/raddb
libdir = /usr/lib/freeradius
pidfile = $DIR/run/radiusd.pid
max_request_time = 30
cleanup_delay = 2
max_requests = 1000000
hostname_lookups = no
log {
  destination = files
  file = $DIR/log/radius.log
  auth = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = yes
}
thread pool {
  start_servers = 4
  max_servers = 16
  min_spare_servers = 2
  max_spare_servers = 8
  max_requests_per_server = 0
  max_queue_size = 65536
}
client localhost {
  ipaddr = 127.0.0.1
  secret = $SECRET
  # as MFA Box's bench client: every request must carry a valid Message-Authenticator
  require_message_authenticator = yes
}
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
exec freeradius -f -d "$DIR/raddb" -l "$DIR/log/radius.log" "$@"
