#!/usr/bin/env bash
# One-node Slurm GPU dev cluster (munge, MariaDB, slurmdbd, slurmctld, slurmd) on this
# machine, which is also the login node. See README.md next to this file.
#
#   cluster.sh install        apt-get install what is missing (fast no-op otherwise)
#   cluster.sh start          bring the cluster up; fast no-op when it is already healthy
#   cluster.sh stop [--all]   stop slurmd, slurmctld, slurmdbd (--all: munged, MariaDB too)
#   cluster.sh restart        stop + start
#   cluster.sh reconfigure    write changed configs into a running cluster without a restart
#   cluster.sh status         one line per daemon + sinfo; exit 0 only if jobs can run
#   cluster.sh image          build the Charliecloud test image var/images/base if missing
#   cluster.sh image-jupyter  build the session image var/images/jupyter from base if missing
#   cluster.sh start-multi    opt-in second cluster devmulti: nodes gpu1 gpu2 cpu1, each in
#                             its own network namespace (multi.sh; stop-multi, status-multi)
#   cluster.sh start-2411     opt-in Slurm 24.11 cluster devcluster2411 in a Debian 13 root
#                             (slurm2411.sh; stop-2411, status-2411)
#
# The cluster is a machine-wide singleton: /etc/slurm is shared by every checkout. The
# installed slurm.conf records the state dir (VAR) it was started with and a hash of the
# rendered templates. `start` from any checkout reuses a running cluster whose hash
# matches; when only settings that a reconfigure applies differ (RECONFIG_KEYS,
# job_submit.lua) it writes them and runs `scontrol reconfigure`; otherwise it stops it and
# starts one that keeps its state and logs in this checkout's var/devcluster.
set -euo pipefail
umask 022
unset SLURM_CONF
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
OWN_VAR=${DEVCLUSTER_VAR:-$REPO/var/devcluster}
VAR=$OWN_VAR # the state dir in use; may become the running cluster's (see pick_var)
IMAGES=$REPO/var/images
ETC=/etc/slurm
CLUSTER=devcluster
NODE=$(hostname -s 2>/dev/null || uname -n)
NODE=${NODE%%.*}
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=${DEVCLUSTER_DB_PASS:-devcluster-dev-only}
LOCK=/run/lock/devcluster.lock
# squashfs-tools: committed custom images are SquashFS files (mksquashfs to make them,
# unsquashfs for a writable copy); ch-run mounts them itself (built with libsquashfuse).
PACKAGES=(munge slurm-wlm slurmdbd slurm-client mariadb-server charliecloud debootstrap
	squashfs-tools)
COMMANDS=(munged slurmctld slurmd slurmdbd sbatch sacctmgr mysqld_safe ch-run debootstrap
	mksquashfs unsquashfs)
# Demo users: name uid accounts default-account
USERS=("alice 2001 proja proja" "bob 2002 proja,projb proja" "carol 2003 projb projb")
USERS_GID=2000
USERS_GROUP=portalusers
WAIT_S=${DEVCLUSTER_WAIT_S:-60}

say() { printf 'devcluster: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
need_root() { [[ $EUID -eq 0 ]] || die "'$1' must run as root"; }

# wait_for DESCRIPTION SECONDS CMD... : poll CMD every 0.2 s until it succeeds.
wait_for() {
	local what=$1 limit=$2 end=$((SECONDS + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || { say "timed out after ${limit}s waiting for $what"; return 1; }
		sleep 0.2
	done
}

slurm_version() { # prints e.g. 2205 for 22.05.8
	local v
	v=$(slurmctld -V 2>/dev/null | grep -oE '[0-9]+\.[0-9]+' | head -1) || true
	[[ -n $v ]] || die "cannot read the Slurm version (slurmctld -V)"
	printf '%d\n' $((${v%%.*} * 100 + 10#${v#*.}))
}

# ---------------------------------------------------------------------------- install
missing_packages() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
		[[ $status == ii* ]] || printf '%s\n' "$p"
	done
}

cmd_install() {
	need_root install
	local missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		say "packages present"
		return 0
	fi
	say "installing: ${missing[*]}"
	apt-get update -q </dev/null
	apt-get install -y -q "${missing[@]}" </dev/null
	# Packages try to start their daemons; without an init system that is refused, which
	# is fine: `start` runs them itself.
}

commands_present() {
	local c
	for c in "${COMMANDS[@]}"; do
		command -v "$c" >/dev/null 2>&1 || return 1
	done
}

# ------------------------------------------------------------------------- templates
# render TEMPLATE: version-filtered template on stdout, with @VAR@ and @FIRST_JOB_ID@ left
# in place (they differ between checkouts / starts and must not change the hash).
render() {
	local line want re='^@SLURM(>=|<)([0-9]+)\.([0-9]+)@ ?(.*)$'
	while IFS= read -r line || [[ -n $line ]]; do
		[[ $line == '##'* ]] && continue # template-only comment
		if [[ $line =~ $re ]]; then
			want=$((BASH_REMATCH[2] * 100 + 10#${BASH_REMATCH[3]}))
			if [[ ${BASH_REMATCH[1]} == '>=' ]]; then
				((VERNUM >= want)) || continue
			else
				((VERNUM < want)) || continue
			fi
			line=${BASH_REMATCH[4]}
		fi
		line=${line//@NODE@/$NODE}
		line=${line//@DB_USER@/$DB_USER}
		line=${line//@DB_PASS@/$DB_PASS}
		line=${line//@DB_NAME@/$DB_NAME}
		printf '%s\n' "$line"
	done <"$(conf_source "$1")"
}

CONFS=(slurm.conf gres.conf cgroup.conf slurmdbd.conf job_submit.lua)
# The portal's job_submit/lua policy is the one real sites install (etc/slurm/), not a copy.
conf_source() { if [[ $1 == job_submit.lua ]]; then echo "$REPO/etc/slurm/job_submit.lua"; else echo "$HERE/$1.in"; fi; }
# Settings that `scontrol reconfigure` (slurmctld) and `sacctmgr reconfigure` (slurmdbd)
# apply to running daemons; changing only these (or job_submit.lua, which slurmctld reloads
# when it changes) needs no restart.
RECONFIG_KEYS=(PrivateData JobSubmitPlugins)

config_hash() {
	local f
	for f in "${CONFS[@]}"; do
		printf '== %s\n' "$f"
		render "$f" | grep -v '^[[:space:]]*#' || true
	done | sha256sum | cut -c1-16
}

# restart_hash: like config_hash, without what a reconfigure applies.
restart_hash() {
	local f re
	re="^($(IFS='|'; echo "${RECONFIG_KEYS[*]}"))="
	for f in "${CONFS[@]}"; do
		[[ $f == job_submit.lua ]] && continue
		printf '== %s\n' "$f"
		render "$f" | grep -v '^[[:space:]]*#' | grep -vE "$re" || true
	done | sha256sum | cut -c1-16
}

installed_hash() { sed -n 's/^# devcluster-hash: //p' "$ETC/slurm.conf" 2>/dev/null | head -1; }
installed_restart_hash() { sed -n 's/^# devcluster-restart-hash: //p' "$ETC/slurm.conf" 2>/dev/null | head -1; }
installed_var() { sed -n 's/^# devcluster-var: //p' "$ETC/slurm.conf" 2>/dev/null | head -1; }

# conf_path FILE KEY DEFAULT: a path setting of an installed config file.
conf_path() {
	local v
	v=$(sed -n "s/^$2=//p" "$ETC/$1" 2>/dev/null | tail -1) || true
	printf '%s\n' "${v:-$3}"
}

write_configs() { # FIRST_JOB_ID
	local f hash rhash
	hash=$(config_hash)
	rhash=$(restart_hash)
	mkdir -p "$ETC"
	for f in "${CONFS[@]}"; do
		{
			if [[ $f == slurm.conf ]]; then
				printf '# GENERATED by %s/cluster.sh start from %s.in; do not edit.\n' "$HERE" "$f"
				printf '# devcluster-hash: %s\n# devcluster-var: %s\n' "$hash" "$VAR"
				printf '# devcluster-restart-hash: %s\n' "$rhash"
			fi
			render "$f" | sed -e "s#@VAR@#$VAR#g" -e "s#@FIRST_JOB_ID@#$1#g"
		} | install_conf "$ETC" "$f"
	done
}

# install_conf DIR FILE: stdin becomes DIR/FILE at once (a temp file renamed), mode 0600
# for slurmdbd.conf (slurmdbd refuses a readable one), 0644 for the others.
install_conf() {
	local tmp
	tmp=$(mktemp "$1/.$2.XXXXXX")
	cat >"$tmp"
	if [[ $2 == slurmdbd.conf ]]; then chmod 0600 "$tmp"; else chmod 0644 "$tmp"; fi
	mv -f "$tmp" "$1/$2"
}

# db_user_sql: the SQL that makes DB_NAME and DB_USER (password DB_PASS, from localhost and
# 127.0.0.1, all rights on DB_NAME); safe to run again.
db_user_sql() {
	local h sql="CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;"
	for h in localhost 127.0.0.1; do
		sql+="CREATE USER IF NOT EXISTS '$DB_USER'@'$h' IDENTIFIED BY '$DB_PASS';"
		sql+="ALTER USER '$DB_USER'@'$h' IDENTIFIED BY '$DB_PASS';"
		sql+="GRANT ALL ON \`$DB_NAME\`.* TO '$DB_USER'@'$h';"
	done
	printf '%s\n' "$sql"
}

# -------------------------------------------------------------------------- processes
# pid_of PIDFILE NAME: prints the pid if the pid file names a live process whose program
# starts with NAME (Debian 13 runs "slurmctld-wlm"); stale files from kill -9 fail here.
pid_of() {
	local pid exe state
	[[ -r $1 ]] || return 1
	pid=$(tr -dc '0-9' <"$1")
	[[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || return 1
	[[ $state != Z && $state != X ]] || return 1
	exe=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -1) || return 1
	exe=${exe##*/}
	[[ $exe == "$2"* ]] || return 1
	printf '%s\n' "$pid"
}

slurmctld_pidfile() { conf_path slurm.conf SlurmctldPidFile "$VAR/run/slurmctld.pid"; }
slurmd_pidfile() { conf_path slurm.conf SlurmdPidFile "$VAR/run/slurmd.pid"; }
slurmdbd_pidfile() { conf_path slurmdbd.conf PidFile "$VAR/run/slurmdbd.pid"; }

daemon_pid() { # slurmctld|slurmd|slurmdbd
	pid_of "$("${1}_pidfile")" "$1"
}

# stop_pid PIDFILE NAME: TERM, wait up to 30 s, then KILL.
stop_pid() {
	local pid
	pid=$(pid_of "$1" "$2") || { rm -f "$1"; return 0; }
	say "stopping $2 (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for "$2 to exit" 30 eval "! pid_of '$1' '$2'"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait_for "$2 to die" 5 eval "! pid_of '$1' '$2'" || true
	fi
	rm -f "$1"
}

stop_slurm() {
	stop_pid "$(slurmd_pidfile)" slurmd
	stop_pid "$(slurmctld_pidfile)" slurmctld
	stop_pid "$(slurmdbd_pidfile)" slurmdbd
}

# spawn LOGFILE CMD...: run a daemon detached from our stdio, so that a caller reading our
# output through a pipe (make, CI) is not kept waiting by it.
spawn() {
	local log=$1
	shift
	# Also close the lock fds (8, 9): a daemon that keeps them would hold the lock forever.
	setsid "$@" </dev/null >>"$log" 2>&1 8>&- 9>&- &
	wait $! 2>/dev/null || true # the Slurm daemons and munged fork and exit here
}

# ------------------------------------------------------------------------------ munge
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
	munge_ok && return 0
	install -d -o munge -g munge -m 0755 /run/munge
	install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
	if [[ ! -s /etc/munge/munge.key ]]; then
		say "creating /etc/munge/munge.key"
		install -d -o munge -g munge -m 0700 /etc/munge
		dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
		chown munge:munge /etc/munge/munge.key
		chmod 0400 /etc/munge/munge.key
	fi
	say "starting munged"
	# --force: take over the socket a killed munged left behind.
	spawn "$VAR/log/munged.stdout" runuser -u munge -- /usr/sbin/munged --force
	wait_for "munge" "$WAIT_S" munge_ok
}

# ---------------------------------------------------------------------------- MariaDB
db_alive() { mysqladmin --connect-timeout=1 --protocol=tcp -h 127.0.0.1 -P 3306 ping >/dev/null 2>&1; }
db_as_slurm() { MYSQL_PWD=$DB_PASS mysql --connect-timeout=2 --protocol=tcp -h 127.0.0.1 -P 3306 -u "$DB_USER" -N -B "$@"; }
db_as_root() { # unix-socket root first (Debian default), then TCP root (DEVCLUSTER_DB_ROOT_PASS)
	mysql -u root -N -B "$@" 2>/dev/null && return 0
	MYSQL_PWD=${DEVCLUSTER_DB_ROOT_PASS:-} mysql --protocol=tcp -h 127.0.0.1 -P 3306 -u root -N -B "$@"
}

start_mariadb() {
	if ! db_alive; then
		install -d -o mysql -g mysql -m 0755 /run/mysqld
		if [[ ! -d /var/lib/mysql/mysql ]]; then
			say "initialising /var/lib/mysql"
			mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$VAR/log/mariadb-install.log" 2>&1
		fi
		touch "$VAR/log/mariadb.log"
		chown mysql:mysql "$VAR/log/mariadb.log"
		say "starting MariaDB (mysqld_safe)"
		setsid mysqld_safe --user=mysql --log-error="$VAR/log/mariadb.log" </dev/null >/dev/null 2>&1 8>&- 9>&- &
		wait_for "MariaDB on 127.0.0.1:3306" "$WAIT_S" db_alive
	fi
	if ! db_as_slurm -e 'SELECT 1' "$DB_NAME" >/dev/null 2>&1; then
		say "creating database $DB_NAME and user $DB_USER"
		db_as_root -e "$(db_user_sql)" || die "cannot create the Slurm DB user (set DEVCLUSTER_DB_ROOT_PASS?)"
	fi
}

# The next job id: one past the highest the accounting DB has seen (0 when none).
first_job_id() {
	local max
	max=$(db_as_slurm -e "SELECT COALESCE(MAX(id_job),0) FROM \`${CLUSTER}_job_table\`" "$DB_NAME" 2>/dev/null) || max=0
	[[ $max =~ ^[0-9]+$ ]] || max=0
	echo $((max + 1))
}

# ------------------------------------------------------------------------------ setup
ensure_users() {
	getent group "$USERS_GROUP" >/dev/null || {
		if getent group "$USERS_GID" >/dev/null; then groupadd "$USERS_GROUP"; else groupadd -g "$USERS_GID" "$USERS_GROUP"; fi
	}
	local spec name uid
	for spec in "${USERS[@]}"; do
		read -r name uid _ <<<"$spec"
		if ! id "$name" >/dev/null 2>&1; then
			say "creating user $name"
			if getent passwd "$uid" >/dev/null; then
				useradd -m -s /bin/bash -G "$USERS_GROUP" "$name"
			else
				useradd -m -s /bin/bash -u "$uid" -G "$USERS_GROUP" "$name"
			fi
		elif ! id -nG "$name" | tr ' ' '\n' | grep -qx "$USERS_GROUP"; then
			usermod -aG "$USERS_GROUP" "$name"
		fi
	done
}

ensure_dirs() {
	install -d -m 0755 "$VAR" "$VAR/state" "$VAR/slurmd" "$VAR/run" "$VAR/log"
	chmod 0755 "$REPO/var" 2>/dev/null || true
	ensure_fake_gpus
}

# Stand-in GPUs (see gres.conf.in): character devices with /dev/null's numbers, shared by
# every dev cluster's node (devmulti's and devcluster2411's too).
ensure_fake_gpus() {
	install -d -m 0755 /dev/fakegpu
	local i
	for i in 0 1 2 3; do
		[[ -c /dev/fakegpu/nvidia$i ]] || { rm -f "/dev/fakegpu/nvidia$i"; mknod -m 0666 "/dev/fakegpu/nvidia$i" c 1 3; }
	done
}

# sacctmgr_i: idempotent `sacctmgr -i`. "Nothing new added" (22.05), "Nothing added",
# "Already existing account" (24.11) mean it is there already: success. ensure_accounting
# checks the result afterwards, so a real failure hidden behind these is still caught.
sacctmgr_i() {
	local out
	if out=$(timeout 30 sacctmgr -i "$@" 2>&1 </dev/null); then return 0; fi
	grep -qiE "nothing (new )?added|already exist|didn't affect anything" <<<"$out" && return 0
	say "sacctmgr $* failed: $out"
	return 1
}

associations() { timeout 10 sacctmgr -n -P show associations cluster="$CLUSTER" format=account,user 2>/dev/null; }

# assoc_missing: true when a wanted account/user association is absent (or DB unreachable).
assoc_missing() {
	local have spec name accts a
	have=$(associations) || return 0
	grep -qx 'root|root' <<<"$have" || return 0
	for spec in "${USERS[@]}"; do
		read -r name _ accts _ <<<"$spec"
		for a in ${accts//,/ }; do
			grep -qx "$a|$name" <<<"$have" || return 0
		done
	done
	return 1
}

ensure_accounting() {
	if ! timeout 10 sacctmgr -n -P show cluster format=cluster 2>/dev/null | grep -qx "$CLUSTER"; then
		say "registering cluster $CLUSTER"
		sacctmgr_i add cluster "$CLUSTER"
	fi
	assoc_missing || { ensure_coordinators; return 0; }
	say "creating accounts and associations"
	sacctmgr_i add account proja Description="Project A" Organization=devcluster
	sacctmgr_i add account projb Description="Project B" Organization=devcluster
	sacctmgr_i add user root Account=root DefaultAccount=root
	local spec name accts def
	for spec in "${USERS[@]}"; do
		read -r name _ accts def <<<"$spec"
		sacctmgr_i add user "$name" Account="$accts" DefaultAccount="$def"
	done
	! assoc_missing || die "accounts/associations still missing after sacctmgr (see above)"
	ensure_coordinators
}

# The demo projects' managers (portal/services/bootstrap.py) are Slurm coordinators.
ensure_coordinators() {
	sacctmgr_i add coordinator account=proja names=alice
	sacctmgr_i add coordinator account=projb names=bob
}

# ------------------------------------------------------------------------------ state
# node_state: the node's long state without the flag suffixes ($ @ ^ # ! % - ~) that do not
# stop jobs; "*" (not responding) is kept, so such a state never counts as usable.
node_state() {
	local s
	s=$(timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -1) || return 1
	printf '%s\n' "${s%%[-\$@^#!%~]}"
}

node_usable() {
	local s
	s=$(node_state) || return 1
	[[ $s =~ ^(idle|mixed|allocated|completing|planned)$ ]]
}

# healthy: everything `start` would do is already done and jobs can run.
healthy() {
	[[ -r $ETC/slurm.conf && -r $ETC/gres.conf ]] || return 1
	[[ $(installed_hash) == "$(config_hash)" ]] || return 1
	daemon_pid slurmdbd >/dev/null && daemon_pid slurmctld >/dev/null && daemon_pid slurmd >/dev/null || return 1
	munge_ok || return 1
	node_usable || return 1
	local spec name
	for spec in "${USERS[@]}"; do
		read -r name _ <<<"$spec"
		id "$name" >/dev/null 2>&1 || return 1
	done
	! assoc_missing
}

# pick_var: reuse the installed cluster's state dir when its templates match ours and it
# is either still (partly) running or this checkout's own; otherwise stop whatever runs
# and start over in OWN_VAR. So a second checkout joins a running cluster, and a fresh
# clone on a machine where nothing runs (CI) gets its own state and logs.
pick_var() {
	local ivar alive=0
	ivar=$(installed_var)
	if daemon_pid slurmdbd >/dev/null || daemon_pid slurmctld >/dev/null || daemon_pid slurmd >/dev/null; then
		alive=1
	fi
	if [[ -n $ivar && -d $ivar && $(installed_hash) == "$(config_hash)" ]] &&
		{ ((alive)) || [[ $ivar == "$OWN_VAR" ]]; }; then
		VAR=$ivar
		return 0
	fi
	if ((alive)); then
		say "the running cluster's config differs (or its state dir $ivar is gone): restarting it"
		stop_slurm
	fi
	VAR=$OWN_VAR
	return 1
}

node_ready() {
	local s tries=0 end=$((SECONDS + WAIT_S))
	while ((SECONDS < end)); do
		s=$(node_state) || s=
		case $s in
		idle | mixed | allocated | completing | planned) return 0 ;;
		down | drained | draining | inval | fail | failing)
			# Registered but not usable (e.g. after a crash or a config change): resume.
			if ((tries++ < 5)); then
				say "node $NODE is $s: resuming"
				scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
			fi
			;;
		esac
		sleep 0.2
	done
	say "node $NODE not usable (state: ${s:-unknown}); see $VAR/log/slurmd.log and slurmctld.log"
	return 1
}

cmd_start() {
	need_root start
	if ! commands_present; then cmd_install; fi
	VERNUM=$(slurm_version)
	mkdir -p "${LOCK%/*}"
	exec 9>"$LOCK"
	flock -w 300 9 || die "another cluster.sh holds $LOCK"
	if healthy; then
		say "already running and healthy (node $NODE, state in $(installed_var))"
		return 0
	fi
	local t0=$SECONDS
	if reconfigurable; then
		apply_reconfigure
		if healthy; then
			say "reconfigured in $((SECONDS - t0))s (node $NODE, state in $(installed_var))"
			return 0
		fi
	fi
	pick_var || true
	say "starting what is not running; state and logs in $VAR"
	ensure_dirs
	ensure_users
	start_munge
	start_mariadb
	if ! daemon_pid slurmdbd >/dev/null && ! daemon_pid slurmctld >/dev/null && ! daemon_pid slurmd >/dev/null; then
		write_configs "$(first_job_id)"
	fi
	local restarted_ctld=0
	if ! daemon_pid slurmdbd >/dev/null; then
		say "starting slurmdbd"
		spawn "$VAR/log/slurmdbd.stdout" slurmdbd
	fi
	wait_for "slurmdbd" "$WAIT_S" timeout 10 sacctmgr -n show cluster
	ensure_accounting
	if ! daemon_pid slurmctld >/dev/null; then
		say "starting slurmctld"
		spawn "$VAR/log/slurmctld.stdout" slurmctld
		restarted_ctld=1
	fi
	wait_for "slurmctld" "$WAIT_S" timeout 10 scontrol ping
	if ((restarted_ctld)); then
		# Jobs the DB still lists as running but the controller does not know (after a crash
		# or a fresh state dir) would stay RUNNING in sacct forever: close them.
		timeout 30 sacctmgr -i show runawayjobs </dev/null >/dev/null 2>&1 || true
	fi
	if ! daemon_pid slurmd >/dev/null; then
		say "starting slurmd"
		spawn "$VAR/log/slurmd.stdout" slurmd
	fi
	node_ready
	say "up in $((SECONDS - t0))s: node $NODE ($(node_state)), state and logs in $VAR"
}

# reconfigurable: every daemon runs from an existing state dir, and what differs from the
# installed configs is only what a reconfigure applies (see RECONFIG_KEYS).
reconfigurable() {
	local ivar
	ivar=$(installed_var)
	[[ -n $ivar && -d $ivar && $(installed_hash) != "$(config_hash)" ]] || return 1
	[[ -n $(installed_restart_hash) && $(installed_restart_hash) == "$(restart_hash)" ]] || return 1
	daemon_pid slurmdbd >/dev/null && daemon_pid slurmctld >/dev/null && daemon_pid slurmd >/dev/null
}

# apply_reconfigure: write the configs (same state dir and FirstJobId) and have the running
# slurmctld and slurmdbd read them again. Running and pending jobs are not touched.
apply_reconfigure() {
	VAR=$(installed_var)
	local first
	first=$(conf_path slurm.conf FirstJobId "$(first_job_id)")
	say "applying changed settings with a reconfigure (no restart)"
	write_configs "$first"
	timeout 30 scontrol reconfigure || die "scontrol reconfigure failed"
	timeout 30 sacctmgr -i reconfigure </dev/null >/dev/null || die "sacctmgr reconfigure failed"
	wait_for "slurmctld" "$WAIT_S" timeout 10 scontrol ping
}

# cmd_reconfigure: apply template changes to the running cluster. Refuses (and changes
# nothing) when a change needs a restart; `restart` does that. The first run after an
# upgrade of this script, whose installed slurm.conf has no restart hash, also works when
# the running settings (scontrol show config) match all but RECONFIG_KEYS.
cmd_reconfigure() {
	need_root reconfigure
	VERNUM=$(slurm_version)
	mkdir -p "${LOCK%/*}"
	exec 9>"$LOCK"
	flock -w 300 9 || die "another cluster.sh holds $LOCK"
	if [[ $(installed_hash) == "$(config_hash)" ]]; then
		say "configs unchanged; nothing to do"
		return 0
	fi
	daemon_pid slurmdbd >/dev/null && daemon_pid slurmctld >/dev/null && daemon_pid slurmd >/dev/null ||
		die "the cluster is not running: use start"
	if [[ -n $(installed_restart_hash) && $(installed_restart_hash) != "$(restart_hash)" ]]; then
		die "the change needs a restart (not only ${RECONFIG_KEYS[*]} or job_submit.lua): use restart"
	fi
	if [[ -z $(installed_restart_hash) ]] && ! only_reconfig_keys_differ; then
		die "the installed slurm.conf differs in more than ${RECONFIG_KEYS[*]}: use restart"
	fi
	apply_reconfigure
	node_ready
	say "reconfigured: $(scontrol show config | grep -E "^($(IFS='|'; echo "${RECONFIG_KEYS[*]}")) " | tr -s ' ' | paste -sd ';')"
}

# only_reconfig_keys_differ: the installed configs and the rendered templates agree on
# every line except RECONFIG_KEYS settings, comments and FirstJobId.
only_reconfig_keys_differ() {
	local f ivar re
	ivar=$(installed_var)
	re="^($(IFS='|'; echo "${RECONFIG_KEYS[*]}"))=|^[[:space:]]*#|^FirstJobId="
	for f in "${CONFS[@]}"; do
		[[ $f == job_submit.lua ]] && continue
		diff -q <(grep -vE "$re" "$ETC/$f" || true) \
			<(render "$f" | sed -e "s#@VAR@#$ivar#g" | grep -vE "$re" || true) >/dev/null || return 1
	done
}

cmd_stop() {
	need_root stop
	VAR=$(installed_var)
	VAR=${VAR:-$OWN_VAR}
	mkdir -p "${LOCK%/*}"
	exec 9>"$LOCK"
	flock -w 300 9 || die "another cluster.sh holds $LOCK"
	stop_slurm
	if [[ ${1:-} == --all ]]; then
		stop_pid /run/munge/munged.pid munged
		if db_alive; then
			say "stopping MariaDB"
			mysqladmin -u root shutdown 2>/dev/null || stop_pid /run/mysqld/mysqld.pid mariadbd || true
			wait_for "MariaDB to stop" 30 eval '! db_alive' || true
		fi
	fi
	say "stopped"
}

cmd_status() {
	local ok=0 d pid
	VAR=$(installed_var)
	VAR=${VAR:-$OWN_VAR}
	if munge_ok; then echo "munged     ok"; else echo "munged     DOWN"; ok=1; fi
	if db_alive; then echo "mariadb    ok (127.0.0.1:3306)"; else echo "mariadb    DOWN"; ok=1; fi
	for d in slurmdbd slurmctld slurmd; do
		if pid=$(daemon_pid "$d"); then
			printf '%-10s ok (pid %s)\n' "$d" "$pid"
		else
			printf '%-10s DOWN\n' "$d"
			ok=1
		fi
	done
	local s
	s=$(node_state) || s=
	printf 'node       %s %s (state and logs in %s)\n' "$NODE" "${s:-unknown}" "$VAR"
	node_usable || ok=1
	timeout 10 sinfo 2>&1 || true
	return $ok
}

# ------------------------------------------------------------------------------ image
codename() { sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"'; }

debian_mirror() {
	local m
	m=$(grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+' \
		/etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		grep -oE 'https?://[^[:space:]]+' | grep -v security | grep -E '/debian/?$' | head -1) || true
	printf '%s\n' "${DEVCLUSTER_MIRROR:-${m:-http://deb.debian.org/debian}}"
}

image_ok() {
	runuser -u alice -- env USER=alice HOME=/tmp ch-run "$IMAGES/base" -- python3 -c 'print(1)' 2>&1 | grep -qx 1
}

cmd_image() {
	need_root image
	if ! commands_present; then cmd_install; fi
	ensure_users
	install -d -m 0755 "$REPO/var" "$IMAGES"
	chmod 0755 "$REPO/var" "$IMAGES"
	exec 8>"$IMAGES/.lock"
	flock -w 600 8 || die "another image build holds $IMAGES/.lock"
	if [[ ! -d $IMAGES/base ]]; then
		local t0=$SECONDS suite tmp
		suite=$(codename)
		suite=${suite:-bookworm}
		rm -rf "$IMAGES"/.base.tmp.* # leftovers of interrupted builds (we hold the lock)
		tmp=$(mktemp -d "$IMAGES/.base.tmp.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		say "building $IMAGES/base ($suite, minbase + python3)"
		debootstrap --variant=minbase --include=python3 "$suite" "$tmp" "$(debian_mirror)" \
			>"$IMAGES/debootstrap.log" 2>&1 </dev/null ||
			die "debootstrap failed; see $IMAGES/debootstrap.log"
		# ch-run binds over these; make sure they exist. Then drop caches to keep it small.
		touch "$tmp/etc/passwd" "$tmp/etc/group" "$tmp/etc/hosts" "$tmp/etc/resolv.conf"
		rm -rf "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb \
			"$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* \
			"$tmp"/usr/share/info/* "$tmp"/var/log/*.log "$tmp"/debootstrap
		chmod 0755 "$tmp"
		mv -T "$tmp" "$IMAGES/base"
		trap - EXIT
		say "image built in $((SECONDS - t0))s ($(du -sh "$IMAGES/base" | cut -f1))"
	fi
	image_ok || die "ch-run $IMAGES/base as alice failed"
	say "image ok: $IMAGES/base (ch-run as alice runs python3)"
}

# ---------------------------------------------------------------------- image-jupyter
# The interactive-session image (issue 4): a copy of base plus python3-venv, an sshd binary
# and JupyterLab (Jupyter Server), ipykernel and terminado in /opt/venv. Built once, in a temp dir that is
# renamed into place. apt runs in a chroot of the copy (as root, no daemons started); pip
# runs in the same chroot against a temporary copy of the host's CA bundle, which is
# removed again, together with the resolver config and the sshd host keys (each session's
# sshd makes its own).
JUPYTER_PIP=(jupyter_server==2.21.1 jupyterlab==4.6.6 ipykernel==7.4.0 terminado==0.18.1)

jupyter_ok() {
	runuser -u alice -- env USER=alice HOME=/tmp ch-run "$IMAGES/jupyter" -- \
		/opt/venv/bin/python -c 'import jupyter_server, ipykernel, terminado; print(1)' 2>&1 |
		grep -qx 1 &&
		runuser -u alice -- env USER=alice HOME=/tmp ch-run "$IMAGES/jupyter" -- /usr/sbin/sshd -V 2>&1 |
		grep -q OpenSSH
}

build_jupyter() { # TMPDIR_OF_IMAGE
	local tmp=$1
	cp -a "$IMAGES/base/." "$tmp/"
	cp -L /etc/resolv.conf "$tmp/etc/resolv.conf"
	cp -L /etc/ssl/certs/ca-certificates.crt "$tmp/tmp/build-ca.crt"
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 0755 "$tmp/usr/sbin/policy-rc.d"
	chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		sh -c 'apt-get -q update && apt-get -q install -y --no-install-recommends python3-venv openssh-server' ||
		return 1
	chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp \
		PIP_CERT=/tmp/build-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
		sh -c 'python3 -m venv /opt/venv && /opt/venv/bin/pip install -q "$@"' pip "${JUPYTER_PIP[@]}" ||
		return 1
	rm -f "$tmp/usr/sbin/policy-rc.d" "$tmp/tmp/build-ca.crt" "$tmp"/etc/ssh/ssh_host_*
	: >"$tmp/etc/resolv.conf"
	rm -rf "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* \
		"$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* "$tmp"/var/log/*.log "$tmp"/root/.cache
	chmod 0755 "$tmp"
}

cmd_image_jupyter() {
	need_root image-jupyter
	[[ -d $IMAGES/base ]] || cmd_image
	exec 8>"$IMAGES/.lock"
	flock -w 900 8 || die "another image build holds $IMAGES/.lock"
	if [[ ! -d $IMAGES/jupyter ]]; then
		local t0=$SECONDS tmp
		rm -rf "$IMAGES"/.jupyter.tmp.* # leftovers of interrupted builds (we hold the lock)
		tmp=$(mktemp -d "$IMAGES/.jupyter.tmp.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		say "building $IMAGES/jupyter (base + python3-venv, sshd, ${JUPYTER_PIP[*]})"
		build_jupyter "$tmp" >"$IMAGES/jupyter-build.log" 2>&1 </dev/null ||
			die "building the jupyter image failed; see $IMAGES/jupyter-build.log"
		mv -T "$tmp" "$IMAGES/jupyter"
		trap - EXIT
		say "image built in $((SECONDS - t0))s ($(du -sh "$IMAGES/jupyter" | cut -f1))"
	fi
	jupyter_ok || die "ch-run $IMAGES/jupyter as alice cannot import jupyter_server or run sshd"
	say "image ok: $IMAGES/jupyter (Jupyter Server, ipykernel, terminado, sshd)"
}

# ------------------------------------------------------------------------ multi-node
# shellcheck source=etc/devcluster/multi.sh
. "$HERE/multi.sh"
# shellcheck source=etc/devcluster/slurm2411.sh
. "$HERE/slurm2411.sh"

# ------------------------------------------------------------------------------- main
usage() { sed -n '5,16s/^# \{0,3\}//p' "${BASH_SOURCE[0]}"; }

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop "${2:-}" ;;
restart)
	cmd_stop
	cmd_start
	;;
reconfigure) cmd_reconfigure ;;
status) cmd_status ;;
image) cmd_image ;;
image-jupyter) cmd_image_jupyter ;;
start-multi) cmd_start_multi ;;
stop-multi) cmd_stop_multi ;;
status-multi) cmd_status_multi ;;
start-2411) cmd_start_2411 ;;
stop-2411) cmd_stop_2411 ;;
status-2411) cmd_status_2411 ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
