# Sourced by start-freeradius.sh and start-freeradius-ldap.sh: the server-wide part of a
# self-contained FreeRADIUS 3.2 config under $DIR (paths, log, security, thread pool, the one
# localhost client with $SECRET), so the two scripts add only their modules and server block.

# A fresh $DIR with raddb/, log/ and run/.
fr_fresh_dir() {
  rm -rf "$DIR"; mkdir -p "$DIR"/{raddb,log,run}
}

# Writes radiusd.conf up to the client block. $1 = start_servers, $2 = max_servers (spares: half).
fr_write_core() {
  local start=$1 max=$2
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
  start_servers = $start
  max_servers = $max
  min_spare_servers = $((start / 2))
  max_spare_servers = $((max / 2))
  max_requests_per_server = 0
  max_queue_size = 65536
}
client localhost {
  ipaddr = 127.0.0.1
  secret = $SECRET
  # as MFA Box's bench client: every request must carry a valid Message-Authenticator
  require_message_authenticator = yes
}
C
}

# Runs the server in the foreground (-f) as the current user: the caller owns the pid.
fr_exec() {
  exec freeradius -f -d "$DIR/raddb" -l "$DIR/log/radius.log" "$@"
}
