#!/usr/bin/env bash
# Keep one command running: restart it whenever it exits, until this script gets SIGTERM,
# SIGINT or SIGHUP (which it passes on to the command, then exits). `make run` starts the
# worker under it (etc/run-portal.sh); real deployments use systemd instead
# (etc/systemd/portal-worker.service, Restart=always).
#
#   etc/supervise.sh [--name NAME] [--child-pidfile FILE] -- COMMAND [ARG...]
#
# Restarts back off 1, 2, 4 ... 30 s, and start again at 1 s once a run lasted 60 s, so a
# command that fails at once does not spin. Each exit and restart is one timestamped line on
# stderr. --child-pidfile holds the running command's pid (for tests and `kill`).
set -uo pipefail

name=command
child_pidfile=
while (($#)); do
  case $1 in
    --name) name=$2; shift 2 ;;
    --child-pidfile) child_pidfile=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--name NAME] [--child-pidfile FILE] -- COMMAND [ARG...]" >&2; exit 2 ;;
  esac
done
(($#)) || { echo "$0: no command given" >&2; exit 2; }

RESET_AFTER=${SUPERVISE_RESET_AFTER:-60}
MAX_DELAY=${SUPERVISE_MAX_DELAY:-30}
child= sleeper= stopping=

say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) supervise[$$]: $name $*" >&2; }

stop() {
  stopping=1
  [[ -n $sleeper ]] && kill "$sleeper" 2>/dev/null
  [[ -n $child ]] && kill -TERM "$child" 2>/dev/null
}
trap stop TERM INT HUP

delay=1
while [[ -z $stopping ]]; do
  started=$SECONDS
  "$@" &
  child=$!
  [[ -n $stopping ]] && kill -TERM "$child" 2>/dev/null  # a stop that came before $! was set
  [[ -n $child_pidfile ]] && echo "$child" >"$child_pidfile"
  say "started (pid $child)"
  # `wait` returns early (status > 128) when a trapped signal arrives: wait again until the
  # command itself has exited, so its real status is reported and no orphan is left.
  wait "$child"; rc=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
  child=
  [[ -n $stopping ]] && { say "stopped (status $rc)"; break; }
  ((SECONDS - started >= RESET_AFTER)) && delay=1
  say "exited (status $rc$( ((rc > 128)) && echo ", signal $((rc - 128))")); restarting in ${delay} s"
  sleep "$delay" &
  sleeper=$!
  wait "$sleeper" 2>/dev/null
  sleeper=
  delay=$((delay * 2 > MAX_DELAY ? MAX_DELAY : delay * 2))
done
[[ -n $child_pidfile ]] && rm -f "$child_pidfile"
exit 0
