#!/usr/bin/env bash
# Serve the portal on the dev cluster: first-run setup, then three processes, each under
# etc/supervise.sh (restarted whenever it exits):
#   - the session gateway (`portal gateway`) on $BIND, the ONE address users open: it serves
#     /s/<id>/ and forwards pages, API and the terminal to the app;
#   - gunicorn (the app) on a unix socket in the private state dir, reachable only through
#     the gateway (PORTAL_BEHIND_GATEWAY: the gateway is one more trusted proxy);
#   - the worker.
# `make run` calls this; `etc/run-portal.sh stop` (or Ctrl-C) stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
BIND=${PORTAL_BIND:-127.0.0.1:8080}
# The portal's own state (database, secret key, credentials, logs, pids) is private to it:
# var/portal, mode 0700, files 0600 (portal/statedir.py; the app refuses to start otherwise).
# The rest of var/ (container images) stays readable: jobs read images as their users.
STATE=${PORTAL_STATE_DIR:-${PORTAL_VAR_DIR:-var}/portal}
mkdir -p var
if [[ "${1:-}" == stop ]]; then
  for f in $STATE/worker.pid $STATE/gateway.pid $STATE/web.pid $STATE/gunicorn.pid \
           var/worker.pid var/gunicorn.pid; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  exit 0
fi
# Plain http on loopback: cookies cannot be Secure there. Behind TLS, leave this unset.
export PORTAL_SESSION_COOKIE_SECURE=${PORTAL_SESSION_COOKIE_SECURE:-false}
# The dev cluster by name: slurmdbd may also keep devmulti (cluster.sh start-multi), and
# sacctmgr without a cluster would change and list every project's associations on both.
export PORTAL_SLURM_CLUSTER=${PORTAL_SLURM_CLUSTER:-devcluster}
$BIN/portal init --demo >/dev/null
# Log files made 0600 before anything writes them. No `umask 077` for the portal itself:
# Slurm gives jobs the submitter's umask, so the users' job files would change mode.
(umask 077 && touch $STATE/worker.log $STATE/access.log $STATE/gunicorn.log $STATE/gateway.log)
# The dev cluster's session image (make image builds it) as a public image, once.
if [[ -d var/images/jupyter ]]; then
  $BIN/portal image register jupyter --path "$PWD/var/images/jupyter" \
    --framework "Python 3 / JupyterLab" --display-name "JupyterLab" --if-missing >/dev/null
fi
$BIN/portal worker --once >/dev/null 2>>$STATE/worker.log || true
[[ -f $STATE/worker.pid ]] && kill "$(cat $STATE/worker.pid)" 2>/dev/null || true
# The worker under a supervisor that restarts it whenever it exits (backoff 1..30 s);
# $STATE/worker.pid is the supervisor's (stopping it stops the worker), $STATE/worker-child.pid
# the worker's. Its log lines carry timestamps and step durations.
etc/supervise.sh --name worker --child-pidfile $STATE/worker-child.pid -- \
  $BIN/portal worker >>$STATE/worker.log 2>&1 &
(umask 077 && echo $! >$STATE/worker.pid)
# The app's private address: a unix socket inside the 0700 state dir.
APP_SOCKET=$STATE/app.sock
rm -f "$APP_SOCKET"
export PORTAL_BEHIND_GATEWAY=true
# The gateway: an open websocket costs it a coroutine and two sockets (no app thread, no
# database connection); it raises its own open-files limit to the hard limit.
etc/supervise.sh --name gateway --child-pidfile $STATE/gateway-child.pid -- \
  $BIN/portal gateway --bind "$BIND" --app "unix:$APP_SOCKET" >>$STATE/gateway.log 2>&1 &
(umask 077 && echo $! >$STATE/gateway.pid)
stop_all() {
  for f in $STATE/worker.pid $STATE/gateway.pid $STATE/web.pid; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
    rm -f "$f"
  done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo
echo "  Portal:    http://$BIND/"
sed -e 's/^username=/  Admin:     /' -e 's/^password=/  Password:  /' $STATE/admin-credentials
echo "  (stored in $STATE/admin-credentials, mode 0600; demo users in $STATE/demo-credentials-*)"
echo "  (logs in $STATE: gateway.log, gunicorn.log, access.log, worker.log)"
echo
# Threaded (gthread) workers: pages and API only now (open websockets stay in the gateway);
# 32 threads per worker leave room for a class of users' page loads.
# portal.gunicorn_conf: access-log lines without query-string credentials or auth headers.
# On a unix socket gunicorn sees no client address: log the chain the gateway forwards
# (its last entry is the address the gateway saw).
ACCESS_FORMAT='%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
etc/supervise.sh --name web --child-pidfile $STATE/gunicorn.pid -- \
  $BIN/gunicorn -c python:portal.gunicorn_conf --bind "unix:$APP_SOCKET" --workers 2 \
  --threads 32 --access-logfile $STATE/access.log --error-logfile $STATE/gunicorn.log \
  --access-logformat "$ACCESS_FORMAT" "portal.wsgi:app" &
(umask 077 && echo $! >$STATE/web.pid)
wait "$(cat $STATE/web.pid)"
