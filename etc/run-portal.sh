#!/usr/bin/env bash
# Serve the portal on the dev cluster: first-run setup, the worker, then gunicorn in the
# foreground. `make run` calls this; `etc/run-portal.sh stop` stops a running one.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
BIND=${PORTAL_BIND:-127.0.0.1:8080}
mkdir -p var
if [[ "${1:-}" == stop ]]; then
  for f in var/worker.pid var/gunicorn.pid; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  exit 0
fi
# Plain http on loopback: cookies cannot be Secure there. Behind TLS, leave this unset.
export PORTAL_SESSION_COOKIE_SECURE=${PORTAL_SESSION_COOKIE_SECURE:-false}
$BIN/portal init --demo >/dev/null
# The dev cluster's session image (make image builds it) as a public image, once.
if [[ -d var/images/jupyter ]]; then
  $BIN/portal image register jupyter --path "$PWD/var/images/jupyter" \
    --framework "Python 3 / JupyterLab" --display-name "JupyterLab" --if-missing >/dev/null
fi
$BIN/portal worker --once >/dev/null 2>>var/worker.log || true
[[ -f var/worker.pid ]] && kill "$(cat var/worker.pid)" 2>/dev/null || true
# The worker under a supervisor that restarts it whenever it exits (backoff 1..30 s);
# var/worker.pid is the supervisor's (stopping it stops the worker), var/worker-child.pid
# the worker's. Its log lines carry timestamps and step durations.
etc/supervise.sh --name worker --child-pidfile var/worker-child.pid -- \
  $BIN/portal worker >>var/worker.log 2>&1 &
echo $! >var/worker.pid
trap 'kill "$(cat var/worker.pid)" 2>/dev/null; rm -f var/worker.pid' EXIT
echo
echo "  Portal:    http://$BIND/"
sed -e 's/^username=/  Admin:     /' -e 's/^password=/  Password:  /' var/admin-credentials
echo "  (stored in var/admin-credentials, mode 0600; demo users in var/demo-credentials-*)"
echo
# Threaded (gthread) workers: every open websocket (a JupyterLab tab holds several, plus the
# web terminal) keeps one thread for as long as it is open, so 4 threads per worker would
# let two users' tabs block every page. 32 per worker leaves room for a class of users.
$BIN/gunicorn --bind "$BIND" --workers 2 --threads 32 --pid var/gunicorn.pid \
  --access-logfile var/access.log --error-logfile var/gunicorn.log "portal.wsgi:app"
