#!/usr/bin/env bash
# Serve the portal on the dev cluster: first-run setup, the worker, then gunicorn in the
# foreground. `make run` calls this; `etc/run-portal.sh stop` stops a running one.
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
  for f in $STATE/worker.pid $STATE/gunicorn.pid var/worker.pid var/gunicorn.pid; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  exit 0
fi
# Plain http on loopback: cookies cannot be Secure there. Behind TLS, leave this unset.
export PORTAL_SESSION_COOKIE_SECURE=${PORTAL_SESSION_COOKIE_SECURE:-false}
$BIN/portal init --demo >/dev/null
# Log files made 0600 before anything writes them. No `umask 077` for the portal itself:
# Slurm gives jobs the submitter's umask, so the users' job files would change mode.
(umask 077 && touch $STATE/worker.log $STATE/access.log $STATE/gunicorn.log)
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
trap 'kill "$(cat $STATE/worker.pid)" 2>/dev/null; rm -f $STATE/worker.pid' EXIT
echo
echo "  Portal:    http://$BIND/"
sed -e 's/^username=/  Admin:     /' -e 's/^password=/  Password:  /' $STATE/admin-credentials
echo "  (stored in $STATE/admin-credentials, mode 0600; demo users in $STATE/demo-credentials-*)"
echo
# Threaded (gthread) workers: every open websocket (a JupyterLab tab holds several, plus the
# web terminal) keeps one thread for as long as it is open, so 4 threads per worker would
# let two users' tabs block every page. 32 per worker leaves room for a class of users.
# portal.gunicorn_conf: access-log lines without query-string credentials or auth headers.
$BIN/gunicorn -c python:portal.gunicorn_conf --bind "$BIND" --workers 2 --threads 32 \
  --pid $STATE/gunicorn.pid --access-logfile $STATE/access.log \
  --error-logfile $STATE/gunicorn.log "portal.wsgi:app"
