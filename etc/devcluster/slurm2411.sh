# shellcheck shell=bash
# A second dev cluster on Slurm 24.11 (Debian 13, "trixie") in a chroot on this Debian 12
# machine (issue #15: the integration tests run on 22.05 and 24.11). Sourced by cluster.sh:
#
#   cluster.sh start-2411    create the trixie root if missing (debootstrap + apt, ~40 s),
#                            mount what it shares, start its munged, MariaDB, slurmdbd,
#                            slurmctld and slurmd; write the client wrappers; no-op if healthy
#   cluster.sh stop-2411     cancel its jobs, stop its daemons by pid file, end what still
#                            runs in its root, remove its mounts
#   cluster.sh status-2411   one line per daemon + sinfo; exit 0 if jobs can run
#
# Everything of it is its own: cluster devcluster2411, munge key and socket, MariaDB
# (127.0.0.1:3307), slurmdbd (6839), slurmctld (6837), slurmd (6838), state and logs in
# <root>/var/lib/devcluster2411. The 22.05 cluster is neither stopped nor reconfigured.
# Its configs are the main cluster's templates rendered for 24.11 (same node, partitions,
# fake GPUs, limits), with only names, ports and paths changed.
#
# The daemons do not run under chroot(2): the kernel refuses unprivileged user namespaces
# to a chrooted process, so ch-run (the jobs' container runtime) would fail. Each daemon
# gets a mount namespace whose root is the trixie tree (pivot_root), which allows them.
#
# Clients: 24.11's commands cannot be replaced by 22.05's (the RPCs differ), and commands
# run as users through runuser/sudo, which cannot enter a chroot. So <dir>/bin holds one
# wrapper per Slurm command that runs the trixie binary directly on this host with the
# trixie dynamic loader and libraries, and SLURM_CONF = a client copy of slurm.conf naming
# the trixie plugin dir and munge socket. Point the portal at it with SLURM_BIN_DIR (tests:
# PORTAL_TEST_SLURM=2411). Shared with the root, at the same paths: /home, /tmp and this
# checkout (job scripts, images, the session monitor), as a site shares them over NFS.

S24=devcluster2411
S24_DIR=${DEVCLUSTER2411_DIR:-/var/lib/slurm-gpu-portal-2411}
S24_ROOT=$S24_DIR/root
S24_BIN=$S24_DIR/bin
S24_SUITE=trixie
S24_VAR=/var/lib/$S24 # inside the root
S24_CTLD_PORT=6837
S24_SLURMD_PORT=6838
S24_DBD_PORT=6839
S24_DB_PORT=3307
S24_LOCK=/run/lock/$S24.lock
# openssh-server: the node's own sshd, which tests run inside a job (netsec).
S24_PACKAGES=(munge slurm-wlm slurmdbd slurm-client mariadb-server charliecloud squashfs-tools
	python3 procps openssh-server)
# Bind mounts, in mount order (stop removes them in reverse).
S24_MOUNTS=(/proc /sys /dev /dev/pts /dev/shm /home /tmp "$REPO")
S24_LIBS=$S24_ROOT/usr/lib/x86_64-linux-gnu
S24_CLIENT_CONF=$S24_ROOT/etc/slurm/client.conf
S24_FIRST_JOB_ID=2411001

s24_env() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"; }

# S24_ENTER CMD...: run CMD with the trixie tree as the root of a mount namespace of its
# own (pivot_root, not chroot; see above). The binds under the root come along (rbind).
S24_ENTER=(unshare --mount --propagation private -- sh -c '
	mount --rbind "$0" "$0" && cd "$0" && pivot_root . .oldroot &&
	exec /bin/sh -c "umount -l /.oldroot && cd / && exec \"\$@\"" sh "$@"'
	"$S24_ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root)

s24_chroot() { s24_env chroot "$S24_ROOT" "$@"; }

# ------------------------------------------------------------------------- the root
s24_create() {
	[[ -x $S24_ROOT/usr/sbin/slurmctld && -e $S24_ROOT/.oldroot ]] && return 0
	local t0=$SECONDS tmp=$S24_DIR/root.tmp
	install -d -m 0755 "$S24_DIR"
	s24_umount_tree "$tmp"
	rm -rf "$tmp"
	say "creating the $S24_SUITE root $S24_ROOT (debootstrap minbase; log in $S24_DIR)"
	debootstrap --variant=minbase "$S24_SUITE" "$tmp" "$(debian_mirror)" >"$S24_DIR/debootstrap.log" 2>&1 </dev/null ||
		die "debootstrap failed; see $S24_DIR/debootstrap.log"
	# The host's users first, so that the packages' system users (munge, mysql) get the
	# host's ids and the homes' owners are the same inside and out.
	s24_sync_users "$tmp"
	cp -L /etc/resolv.conf "$tmp/etc/resolv.conf"
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d" # no daemons from postinst
	chmod 0755 "$tmp/usr/sbin/policy-rc.d"
	local m
	for m in /proc /sys /dev /dev/pts; do mount --bind "$m" "$tmp$m"; done
	s24_env chroot "$tmp" sh -c 'apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "$@"' \
		sh "${S24_PACKAGES[@]}" >"$S24_DIR/apt.log" 2>&1 </dev/null || {
		s24_umount_tree "$tmp"
		die "apt-get install in the $S24_SUITE root failed; see $S24_DIR/apt.log"
	}
	s24_umount_tree "$tmp"
	rm -f "$tmp/usr/sbin/policy-rc.d"
	rm -rf "$tmp"/var/cache/apt/archives/*.deb
	install -d -m 0755 "$tmp/.oldroot"
	mv -T "$tmp" "$S24_ROOT"
	say "root created in $((SECONDS - t0))s ($(s24_chroot slurmctld -V), $(du -sh "$S24_ROOT" | cut -f1))"
}

# s24_apt_missing: install what S24_PACKAGES gained since the root was made (the root's
# binds are mounted; no daemon is started by a postinst).
s24_apt_missing() {
	local p missing=()
	for p in "${S24_PACKAGES[@]}"; do
		[[ $(s24_chroot dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	say "installing into the $S24_SUITE root: ${missing[*]}"
	printf '#!/bin/sh\nexit 101\n' >"$S24_ROOT/usr/sbin/policy-rc.d"
	chmod 0755 "$S24_ROOT/usr/sbin/policy-rc.d"
	s24_chroot sh -c 'apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "$@"' \
		sh "${missing[@]}" >>"$S24_DIR/apt.log" 2>&1 </dev/null || say "apt-get install failed; see $S24_DIR/apt.log"
	rm -f "$S24_ROOT/usr/sbin/policy-rc.d" "$S24_ROOT"/var/cache/apt/archives/*.deb
}

# s24_sync_users [ROOT]: the host's passwd/group (and shadow files) in the root, plus the
# entries only the root has, so users the host adds later exist inside too.
s24_sync_users() {
	local root=${1:-$S24_ROOT} f tmp
	for f in passwd group shadow gshadow; do
		[[ -e /etc/$f ]] || continue
		tmp=$(mktemp "$root/etc/.$f.XXXXXX")
		{
			cat "/etc/$f"
			[[ -e $root/etc/$f ]] && awk -F: 'NR == FNR { have[$1] = 1; next } !($1 in have)' "/etc/$f" "$root/etc/$f"
		} >"$tmp"
		chmod --reference="/etc/$f" "$tmp"
		chown --reference="/etc/$f" "$tmp"
		mv -f "$tmp" "$root/etc/$f"
	done
	cp -L /etc/hosts "$root/etc/hosts"
}

s24_mount() {
	local m
	for m in "${S24_MOUNTS[@]}"; do
		mountpoint -q "$S24_ROOT$m" && continue
		install -d -m 0755 "$S24_ROOT$m"
		mount --bind "$m" "$S24_ROOT$m"
	done
}

# s24_umount_tree DIR: remove every mount at or below DIR, deepest first.
s24_umount_tree() {
	local m
	[[ -d $1 ]] || return 0
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "cannot unmount $m"
	done < <(findmnt -rn -o TARGET | awk -v d="$1" 'index($0, d "/") == 1' | sort -r)
}

# ---------------------------------------------------------------------- configs
# render_2411 FILE: the main cluster's template, rendered for 24.11 and turned into
# devcluster2411's (names, ports, state paths; partitions, GRES and limits unchanged).
render_2411() {
	local full
	full=$(VERNUM=2411 render "$1")
	case $1 in
	slurm.conf)
		sed -e "s/^ClusterName=.*/ClusterName=$S24/" \
			-e "s/^SlurmctldPort=.*/SlurmctldPort=$S24_CTLD_PORT/" \
			-e "s/^SlurmdPort=.*/SlurmdPort=$S24_SLURMD_PORT/" \
			-e "s/^AccountingStoragePort=.*/AccountingStoragePort=$S24_DBD_PORT/" <<<"$full"
		;;
	slurmdbd.conf)
		sed -e "s/^DbdPort=.*/DbdPort=$S24_DBD_PORT/" -e "s/^StoragePort=.*/StoragePort=$S24_DB_PORT/" <<<"$full"
		;;
	*) printf '%s\n' "$full" ;;
	esac
}

s24_config_hash() {
	local f
	for f in "${CONFS[@]}"; do
		printf '== %s\n' "$f"
		render_2411 "$f" | grep -v '^[[:space:]]*#' || true
	done | sha256sum | cut -c1-16
}
s24_installed_hash() { sed -n "s/^# $S24-hash: //p" "$S24_ROOT/etc/slurm/slurm.conf" 2>/dev/null || true; }

s24_write_configs() {
	local f hash first etc=$S24_ROOT/etc/slurm
	hash=$(s24_config_hash)
	first=$(s24_first_job_id)
	install -d -m 0755 "$etc"
	for f in "${CONFS[@]}"; do
		{
			if [[ $f == slurm.conf ]]; then
				printf '# GENERATED by %s/cluster.sh start-2411 from %s.in; do not edit.\n' "$HERE" "$f"
				printf '# %s-hash: %s\n' "$S24" "$hash"
			fi
			render_2411 "$f" | sed -e "s#@VAR@#$S24_VAR#g" -e "s#@FIRST_JOB_ID@#$first#g"
		} | install_conf "$etc" "$f"
	done
	# The clients run on this host: the trixie plugins and this cluster's munge socket (to
	# slurmctld: AuthInfo; to slurmdbd: AccountingStoragePass).
	local sock=$S24_ROOT/run/munge/munge.socket.2
	{
		cat "$etc/slurm.conf"
		printf 'PluginDir=%s/slurm-wlm\nAuthInfo=socket=%s\nAccountingStoragePass=%s\n' "$S24_LIBS" "$sock" "$sock"
	} | install_conf "$etc" "${S24_CLIENT_CONF##*/}"
}

# s24_write_wrappers: <dir>/bin/<command> for each Slurm client command of the root.
s24_write_wrappers() {
	local c tmp
	install -d -m 0755 "$S24_BIN"
	for c in sacct sacctmgr salloc sattach sbatch sbcast scancel scontrol scrontab sdiag sinfo \
		sprio squeue sreport srun sshare sstat strigger; do
		[[ -x $S24_ROOT/usr/bin/$c ]] || continue
		tmp=$(mktemp "$S24_BIN/.$c.XXXXXX")
		cat >"$tmp" <<-EOF
			#!/bin/sh
			# GENERATED by cluster.sh start-2411: Slurm 24.11's $c from $S24_ROOT, run on this host.
			# A caller's own SLURM_CONF wins (e.g. a copy pointing at other ports).
			: "\${SLURM_CONF:=$S24_CLIENT_CONF}"; export SLURM_CONF
			exec $S24_ROOT/lib64/ld-linux-x86-64.so.2 --library-path $S24_LIBS/slurm-wlm:$S24_LIBS $S24_ROOT/usr/bin/$c "\$@"
		EOF
		chmod 0755 "$tmp"
		mv -f "$tmp" "$S24_BIN/$c"
	done
}

s24_db() { s24_chroot mysql -u root -N -B "$@"; }
s24_db_alive() { s24_chroot mysqladmin --connect-timeout=1 --protocol=tcp -h 127.0.0.1 -P "$S24_DB_PORT" ping >/dev/null 2>&1; }

s24_first_job_id() {
	local max
	max=$(s24_db -e "SELECT COALESCE(MAX(id_job),0) FROM \`${S24}_job_table\`" "$DB_NAME" 2>/dev/null) || max=0
	[[ $max =~ ^[0-9]+$ ]] || max=0
	((max >= S24_FIRST_JOB_ID)) || max=$((S24_FIRST_JOB_ID - 1))
	echo $((max + 1))
}

# ---------------------------------------------------------------------- daemons
s24_munge_ok() { s24_chroot sh -c 'munge -n | unmunge' >/dev/null 2>&1; }
s24_pidfile() { echo "$S24_ROOT$S24_VAR/run/$1.pid"; }

s24_start_munge() {
	s24_munge_ok && return 0
	if [[ ! -s $S24_ROOT/etc/munge/munge.key ]]; then
		say "creating the root's own munge key"
		install -d -m 0700 "$S24_ROOT/etc/munge"
		dd if=/dev/urandom of="$S24_ROOT/etc/munge/munge.key" bs=1024 count=1 status=none
		chmod 0400 "$S24_ROOT/etc/munge/munge.key"
		s24_chroot chown -R munge:munge /etc/munge
	fi
	s24_chroot sh -c 'install -d -o munge -g munge -m 0755 /run/munge && install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge'
	say "starting munged ($S24)"
	spawn "$S24_ROOT$S24_VAR/log/munged.stdout" "${S24_ENTER[@]}" runuser -u munge -- /usr/sbin/munged --force
	wait_for "munge ($S24)" "$WAIT_S" s24_munge_ok
}

s24_start_mariadb() {
	if ! s24_db_alive; then
		s24_chroot sh -c 'install -d -o mysql -g mysql -m 0755 /run/mysqld'
		if [[ ! -d $S24_ROOT/var/lib/mysql/mysql ]]; then
			say "initialising the root's /var/lib/mysql"
			s24_chroot mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$S24_ROOT$S24_VAR/log/mariadb-install.log" 2>&1
		fi
		s24_chroot sh -c 'touch "$1" && chown mysql:mysql "$1"' sh "$S24_VAR/log/mariadb.log"
		say "starting MariaDB ($S24, 127.0.0.1:$S24_DB_PORT)"
		# mysqld_safe stays in the foreground: started in the background, not waited for.
		setsid "${S24_ENTER[@]}" mysqld_safe --user=mysql --port="$S24_DB_PORT" --bind-address=127.0.0.1 \
			--log-error="$S24_VAR/log/mariadb.log" </dev/null >/dev/null 2>&1 8>&- 9>&- &
		wait_for "MariaDB on 127.0.0.1:$S24_DB_PORT" "$WAIT_S" s24_db_alive
	fi
	if ! s24_db -e 'SELECT 1' "$DB_NAME" >/dev/null 2>&1 ||
		! s24_chroot env MYSQL_PWD="$DB_PASS" mysql --protocol=tcp -h 127.0.0.1 -P "$S24_DB_PORT" -u "$DB_USER" -e 'SELECT 1' "$DB_NAME" >/dev/null 2>&1; then
		say "creating database $DB_NAME and user $DB_USER ($S24)"
		s24_db -e "$(db_user_sql)" || die "cannot create the Slurm DB user in the $S24 MariaDB"
	fi
}

s24_daemon_pid() { pid_of "$(s24_pidfile "$1")" "$1"; }

s24_healthy() {
	[[ $(s24_installed_hash) == "$(s24_config_hash)" && -x $S24_BIN/sbatch ]] || return 1
	local m d
	for m in "${S24_MOUNTS[@]}"; do mountpoint -q "$S24_ROOT$m" || return 1; done
	for d in slurmdbd slurmctld slurmd; do s24_daemon_pid "$d" >/dev/null || return 1; done
	s24_munge_ok && node_usable && ! assoc_missing
}

s24_stop_daemons() {
	if s24_daemon_pid slurmctld >/dev/null; then
		local jobs
		jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | tr '\n' ' ') || jobs=
		if [[ -n ${jobs// /} ]]; then
			say "cancelling $S24 jobs: $jobs"
			# shellcheck disable=SC2086
			timeout 10 scancel $jobs 2>/dev/null || true
			wait_for "$S24 jobs to end" 30 eval '[[ -z $(timeout 10 squeue -h -o %A 2>/dev/null) ]]' || true
		fi
	fi
	local d
	for d in slurmd slurmctld slurmdbd; do stop_pid "$(s24_pidfile "$d")" "$d"; done
	if s24_db_alive; then
		say "stopping MariaDB ($S24)"
		s24_chroot mysqladmin -u root shutdown 2>/dev/null || true
		wait_for "MariaDB ($S24) to stop" 30 eval '! s24_db_alive' || true
	fi
	stop_pid "$S24_ROOT/run/munge/munged.pid" munged
}

# s24_end_leftovers: whatever still runs with the root as its root (job steps that outlived
# the cancel, sessions' containers) ends, so the mounts can go.
s24_end_leftovers() {
	local p pids=() self
	self=$(readlink /proc/self/ns/mnt)
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/mnt" 2>/dev/null) != "$self" ]] || continue
		[[ -e $p/root$S24_VAR/.$S24 ]] && pids+=("${p#/proc/}")
	done
	((${#pids[@]})) || return 0
	say "ending what still runs in the $S24 root: ${pids[*]}"
	kill -KILL "${pids[@]}" 2>/dev/null || true
}

cmd_start_2411() {
	need_root start-2411
	commands_present || cmd_install
	mkdir -p "${S24_LOCK%/*}"
	exec 9>"$S24_LOCK"
	flock -w 600 9 || die "another cluster.sh holds $S24_LOCK"
	export PATH=$S24_BIN:$PATH # sinfo, scontrol, sacctmgr below: 24.11's, through the wrappers
	CLUSTER=$S24
	VERNUM=2411
	[[ -x $S24_ROOT/usr/sbin/slurmctld ]] && s24_write_wrappers
	if [[ -x $S24_ROOT/usr/sbin/slurmctld ]] && s24_healthy; then
		say "$S24 already running and healthy (Slurm 24.11; wrappers in $S24_BIN)"
		return 0
	fi
	local t0=$SECONDS
	s24_create
	if [[ -r $S24_ROOT/etc/slurm/slurm.conf && $(s24_installed_hash) != "$(s24_config_hash)" ]]; then
		say "$S24's templates changed: restarting its Slurm daemons"
		local d
		for d in slurmd slurmctld slurmdbd; do stop_pid "$(s24_pidfile "$d")" "$d"; done
	fi
	ensure_users
	s24_sync_users
	ensure_fake_gpus
	s24_mount
	s24_apt_missing
	install -d -m 0755 "$S24_ROOT$S24_VAR"/{state,slurmd,run,log}
	touch "$S24_ROOT$S24_VAR/.$S24"
	s24_write_wrappers
	s24_start_munge
	s24_start_mariadb
	if ! s24_daemon_pid slurmdbd >/dev/null && ! s24_daemon_pid slurmctld >/dev/null && ! s24_daemon_pid slurmd >/dev/null; then
		s24_write_configs
	fi
	if ! s24_daemon_pid slurmdbd >/dev/null; then
		say "starting slurmdbd ($S24, port $S24_DBD_PORT)"
		spawn "$S24_ROOT$S24_VAR/log/slurmdbd.stdout" "${S24_ENTER[@]}" slurmdbd
	fi
	wait_for "slurmdbd ($S24)" "$WAIT_S" timeout 10 sacctmgr -n show cluster
	ensure_accounting
	if ! s24_daemon_pid slurmctld >/dev/null; then
		say "starting slurmctld ($S24, port $S24_CTLD_PORT)"
		spawn "$S24_ROOT$S24_VAR/log/slurmctld.stdout" "${S24_ENTER[@]}" slurmctld
		wait_for "slurmctld ($S24)" "$WAIT_S" timeout 10 scontrol ping
		timeout 30 sacctmgr -i show runawayjobs </dev/null >/dev/null 2>&1 || true
	fi
	if ! s24_daemon_pid slurmd >/dev/null; then
		say "starting slurmd ($S24, port $S24_SLURMD_PORT)"
		spawn "$S24_ROOT$S24_VAR/log/slurmd.stdout" "${S24_ENTER[@]}" slurmd
	fi
	VAR=$S24_ROOT$S24_VAR node_ready
	say "$S24 up in $((SECONDS - t0))s: node $NODE ($(node_state)), Slurm 24.11; SLURM_BIN_DIR=$S24_BIN"
}

cmd_stop_2411() {
	need_root stop-2411
	mkdir -p "${S24_LOCK%/*}"
	exec 9>"$S24_LOCK"
	flock -w 600 9 || die "another cluster.sh holds $S24_LOCK"
	export PATH=$S24_BIN:$PATH
	[[ -d $S24_ROOT ]] || { say "$S24: no root at $S24_ROOT, nothing to stop"; return 0; }
	s24_stop_daemons
	s24_end_leftovers
	s24_umount_tree "$S24_ROOT"
	say "$S24 stopped, mounts removed"
}

cmd_status_2411() {
	local ok=0 d pid s
	export PATH=$S24_BIN:$PATH
	CLUSTER=$S24
	if s24_munge_ok; then echo "munged     ok ($S24_ROOT/run/munge)"; else echo "munged     DOWN"; ok=1; fi
	if s24_db_alive; then echo "mariadb    ok (127.0.0.1:$S24_DB_PORT)"; else echo "mariadb    DOWN"; ok=1; fi
	for d in slurmdbd slurmctld slurmd; do
		if pid=$(s24_daemon_pid "$d"); then
			printf '%-10s ok (pid %s)\n' "$d" "$pid"
		else
			printf '%-10s DOWN\n' "$d"
			ok=1
		fi
	done
	s=$(node_state 2>/dev/null) || s=
	printf 'node       %s %s (Slurm 24.11, state and logs in %s, SLURM_BIN_DIR=%s)\n' "$NODE" "${s:-unknown}" "$S24_ROOT$S24_VAR" "$S24_BIN"
	node_usable || ok=1
	[[ -x $S24_BIN/sinfo ]] && { timeout 10 sinfo 2>&1 || true; }
	return $ok
}
