# shellcheck shell=bash
# The opt-in multi-node dev cluster (issue #15), sourced by cluster.sh:
#
#   cluster.sh start-multi    a second cluster "devmulti" beside the one-node "devcluster"
#   cluster.sh stop-multi     cancel its jobs, stop its daemons, remove its network, and
#                             take it out of slurmdbd again
#   cluster.sh status-multi   one line per daemon and node + sinfo; exit 0 if jobs can run
#
# Its own slurmctld runs on this host (port 6827, state and logs in var/devmulti of the
# checkout that started it, configs in /etc/slurm-devmulti, rendered from the same
# templates; like the main cluster it is one per machine, and a start from another
# checkout reuses it when its configs match). Its compute nodes gpu1, gpu2 (4 fake
# a100 each) and cpu1 each run a slurmd in their own network namespace (devmulti-<node>)
# with their own address on a bridge (devmulti0, 10.250.15.0/24, the host is .1), and in
# their own UTS namespace (hostname = node name), with an /etc/hosts of their own that
# names the nodes and the host. munge, MariaDB and slurmdbd are the main cluster's:
# devmulti is a second cluster in the same accounting database. The one-node cluster is
# neither stopped nor reconfigured by anything here.
#
# Everything else is one file system: homes, var/images, job directories. See README.md.

MULTI=devmulti
M_OWN_VAR=${DEVMULTI_VAR:-$REPO/var/devmulti}
MVAR=$M_OWN_VAR # the state dir in use: the running devmulti's (see m_pick_var)
METC=/etc/slurm-devmulti
M_NET=${DEVMULTI_NET:-10.250.15}
M_BRIDGE=devmulti0
M_CTLD_PORT=6827
# name, last address byte, partition ("gpu" nodes get the fake GPUs)
M_NODES=("gpu1 11 gpu" "gpu2 12 gpu" "cpu1 13 cpu")
M_LOCK=/run/lock/devmulti.lock
# The machine-wide lock every test and portal process takes around sacctmgr changes
# (tests/conftest.py, adapters/dbdlock.py): Slurm 22.05 breaks under parallel changes.
M_DBD_LOCK=${PORTAL_SLURMDBD_LOCK_FILE:-/var/lib/slurm-gpu-portal-tests/slurmdbd-changes.lock}

mctl() { SLURM_CONF=$METC/slurm.conf timeout 10 "$@"; }
m_ns() { printf 'devmulti-%s\n' "$1"; }

# ------------------------------------------------------------------------ configs
# render_multi FILE: the main cluster's template, turned into devmulti's.
render_multi() {
	local spec name octet part nodeline full gpus=() cpus=()
	case $1 in
	slurm.conf)
		# Whole outputs first: with pipefail, a reader that stops early (grep -m1) would
		# make the writer's SIGPIPE fail the script.
		full=$(render slurm.conf)
		nodeline=$(sed -n '/^NodeName=/p' <<<"$full")
		nodeline=${nodeline%%$'\n'*}
		sed -e '/^NodeName=/d' \
			-e "s/^ClusterName=.*/ClusterName=$MULTI/" \
			-e "s/^SlurmctldHost=.*/SlurmctldHost=$NODE($M_NET.1)/" \
			-e "s/^SlurmctldPort=.*/SlurmctldPort=$M_CTLD_PORT/" \
			-e 's#^SlurmdSpoolDir=.*#SlurmdSpoolDir=@VAR@/slurmd/%n#' \
			-e 's#^SlurmdPidFile=.*#SlurmdPidFile=@VAR@/run/slurmd-%n.pid#' \
			-e 's#^SlurmdLogFile=.*#SlurmdLogFile=@VAR@/log/slurmd-%n.log#' \
			-e '/^PartitionName=/d' <<<"$full"
		for spec in "${M_NODES[@]}"; do
			read -r name octet part <<<"$spec"
			if [[ $part == gpu ]]; then
				gpus+=("$name")
				sed -e "s/^NodeName=[^ ]* NodeAddr=[^ ]*/NodeName=$name NodeAddr=$M_NET.$octet/" <<<"$nodeline"
			else
				cpus+=("$name")
				sed -e "s/^NodeName=[^ ]* NodeAddr=[^ ]*/NodeName=$name NodeAddr=$M_NET.$octet/" \
					-e 's/ Gres=[^ ]*//' <<<"$nodeline"
			fi
		done
		grep '^PartitionName=' <<<"$full" | sed \
			-e "/^PartitionName=gpu /s/Nodes=[^ ]*/Nodes=$(IFS=,; echo "${gpus[*]}")/" \
			-e "/^PartitionName=cpu /s/Nodes=[^ ]*/Nodes=$(IFS=,; echo "${cpus[*]}")/"
		;;
	gres.conf)
		render gres.conf | sed -e "s/^NodeName=[^ ]*/NodeName=$(m_gpu_nodes)/"
		;;
	*) render "$1" ;;
	esac
}

m_gpu_nodes() {
	local spec name part out=()
	for spec in "${M_NODES[@]}"; do
		read -r name _ part <<<"$spec"
		[[ $part == gpu ]] && out+=("$name")
	done
	(IFS=,; echo "${out[*]}")
}

M_CONFS=(slurm.conf gres.conf cgroup.conf job_submit.lua)

m_config_hash() {
	local f
	for f in "${M_CONFS[@]}"; do
		printf '== %s\n' "$f"
		render_multi "$f" | grep -v '^[[:space:]]*#' || true
	done | sha256sum | cut -c1-16
}
m_installed_hash() { sed -n 's/^# devmulti-hash: //p' "$METC/slurm.conf" 2>/dev/null || true; }
m_installed_var() { sed -n 's/^# devmulti-var: //p' "$METC/slurm.conf" 2>/dev/null || true; }

# m_pick_var: the state dir of the devmulti that runs (whichever checkout started it), if
# one does; else this checkout's.
m_pick_var() {
	local ivar
	ivar=$(m_installed_var)
	if [[ -n $ivar && -d $ivar ]] && pid_of "$ivar/run/slurmctld.pid" slurmctld >/dev/null; then
		MVAR=$ivar
	else
		MVAR=$M_OWN_VAR
	fi
}

# Job ids of devmulti start at 900000 (or after the highest it has recorded), so they
# never look like the main cluster's.
m_first_job_id() {
	local max
	max=$(db_as_slurm -e "SELECT COALESCE(MAX(id_job),0) FROM \`${MULTI}_job_table\`" "$DB_NAME" 2>/dev/null) || max=0
	[[ $max =~ ^[0-9]+$ ]] || max=0
	((max >= 900000)) || max=899999
	echo $((max + 1))
}

m_write_configs() {
	local f hash first
	hash=$(m_config_hash)
	first=$(m_first_job_id)
	install -d -m 0755 "$METC"
	for f in "${M_CONFS[@]}"; do
		{
			if [[ $f == slurm.conf ]]; then
				printf '# GENERATED by %s/cluster.sh start-multi from %s.in; do not edit.\n' "$HERE" "$f"
				printf '# devmulti-hash: %s\n# devmulti-var: %s\n' "$hash" "$MVAR"
			fi
			render_multi "$f" | sed -e "s#@VAR@#$MVAR#g" -e "s#@FIRST_JOB_ID@#$first#g"
		} | install_conf "$METC" "$f"
	done
	# Each node's /etc/hosts (bind-mounted over /etc/hosts in its mount namespace): the
	# node names resolve to their bridge addresses there, and this host's name to .1.
	{
		printf '127.0.0.1\tlocalhost\n%s.1\t%s\n' "$M_NET" "$NODE"
		local spec name octet
		for spec in "${M_NODES[@]}"; do
			read -r name octet _ <<<"$spec"
			printf '%s.%s\t%s\n' "$M_NET" "$octet" "$name"
		done
	} >"$METC/hosts"
	chmod 0644 "$METC/hosts"
}

# ------------------------------------------------------------------------ network
m_net_up() {
	if ! ip link show "$M_BRIDGE" >/dev/null 2>&1; then
		ip link add "$M_BRIDGE" type bridge
	fi
	ip addr replace "$M_NET.1/24" dev "$M_BRIDGE"
	ip link set "$M_BRIDGE" up
	local spec name octet ns veth
	for spec in "${M_NODES[@]}"; do
		read -r name octet _ <<<"$spec"
		ns=$(m_ns "$name")
		veth=dm-$name
		[[ -e /run/netns/$ns ]] || ip netns add "$ns"
		if ! ip link show "$veth" >/dev/null 2>&1; then
			ip link add "$veth" type veth peer name "$veth-n"
			ip link set "$veth-n" netns "$ns"
			ip -n "$ns" link set "$veth-n" name eth0
		fi
		ip link set "$veth" master "$M_BRIDGE" up
		ip -n "$ns" addr replace "$M_NET.$octet/24" dev eth0
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
	done
}

m_net_down() {
	local spec name ns
	for spec in "${M_NODES[@]}"; do
		read -r name _ _ <<<"$spec"
		ns=$(m_ns "$name")
		ip link del "dm-$name" 2>/dev/null || true
		if [[ -e /run/netns/$ns ]]; then ip netns del "$ns" 2>/dev/null || true; fi
	done
	if ip link show "$M_BRIDGE" >/dev/null 2>&1; then ip link del "$M_BRIDGE"; fi
}

# ------------------------------------------------------------------------ daemons
m_ctld_pidfile() { echo "$MVAR/run/slurmctld.pid"; }
m_slurmd_pidfile() { echo "$MVAR/run/slurmd-$1.pid"; }

m_start_slurmd() { # NODE
	local ns
	ns=$(m_ns "$1")
	install -d -m 0755 "$MVAR/slurmd/$1"
	say "starting slurmd $1 in network namespace $ns ($(m_addr "$1"))"
	# nsenter, not `ip netns exec`: that remounts /sys, hiding /sys/fs/cgroup, without
	# which Slurm 22.05's slurmd does not start. unshare: its own hostname (how slurmd finds
	# its NodeName, and what `hostname` says in its jobs) and its own mount namespace, so
	# the hosts bind stays inside.
	spawn "$MVAR/log/slurmd-$1.stdout" nsenter --net="/run/netns/$ns" -- \
		unshare --uts --mount --propagation private -- \
		sh -c 'hostname "$1" && mount --bind "$2" /etc/hosts && exec env SLURM_CONF="$3" slurmd' \
		sh "$1" "$METC/hosts" "$METC/slurm.conf"
}

m_addr() {
	local spec name octet
	for spec in "${M_NODES[@]}"; do
		read -r name octet _ <<<"$spec"
		[[ $name == "$1" ]] && { echo "$M_NET.$octet"; return 0; }
	done
	return 1
}

m_node_state() {
	local s
	s=$(mctl sinfo -h -N -n "$1" -o %T 2>/dev/null) || return 1
	s=${s%%$'\n'*}
	printf '%s\n' "${s%%[-\$@^#!%~]}"
}

m_nodes_usable() {
	local spec name s
	for spec in "${M_NODES[@]}"; do
		read -r name _ _ <<<"$spec"
		s=$(m_node_state "$name") || return 1
		[[ $s =~ ^(idle|mixed|allocated|completing|planned)$ ]] || return 1
	done
}

m_healthy() {
	[[ -r $METC/slurm.conf && $(m_installed_hash) == "$(m_config_hash)" ]] || return 1
	pid_of "$(m_ctld_pidfile)" slurmctld >/dev/null || return 1
	local spec name
	for spec in "${M_NODES[@]}"; do
		read -r name _ _ <<<"$spec"
		pid_of "$(m_slurmd_pidfile "$name")" slurmd >/dev/null || return 1
		[[ -e /run/netns/$(m_ns "$name") ]] || return 1
	done
	local addrs
	addrs=$(ip -br addr show "$M_BRIDGE" 2>/dev/null) || return 1
	[[ $addrs == *" $M_NET.1/"* ]] || return 1
	munge_ok && m_nodes_usable && ! m_assoc_missing
}

m_assoc_missing() {
	local have spec name accts a
	have=$(timeout 10 sacctmgr -n -P show associations cluster="$MULTI" format=account,user 2>/dev/null) || return 0
	for spec in "${USERS[@]}"; do
		read -r name _ accts _ <<<"$spec"
		for a in ${accts//,/ }; do
			grep -qx "$a|$name" <<<"$have" || return 0
		done
	done
	return 1
}

# m_ensure_accounting: cluster devmulti and the demo associations on it, changed under the
# machine-wide sacctmgr lock (the accounts proja/projb and coordinators are global).
m_ensure_accounting() {
	install -d -m 0700 "${M_DBD_LOCK%/*}"
	(
		flock -w 120 7 || die "another sacctmgr change holds $M_DBD_LOCK"
		local clusters
		clusters=$(timeout 10 sacctmgr -n -P show cluster format=cluster 2>/dev/null) || clusters=
		if ! grep -qx "$MULTI" <<<"$clusters"; then
			say "registering cluster $MULTI with slurmdbd"
			sacctmgr_i add cluster "$MULTI"
		fi
		m_assoc_missing || exit 0
		say "creating associations on $MULTI"
		sacctmgr_i add account proja,projb cluster="$MULTI"
		local spec name accts def
		for spec in "${USERS[@]}"; do
			read -r name _ accts def <<<"$spec"
			sacctmgr_i add user "$name" Account="$accts" DefaultAccount="$def" cluster="$MULTI"
		done
	) 7>>"$M_DBD_LOCK"
	! m_assoc_missing || die "associations on $MULTI still missing after sacctmgr (see above)"
}

# m_unregister: take devmulti out of slurmdbd again (its associations with it), so that a
# stopped devmulti leaves the shared accounting database as the main cluster alone had it:
# with two clusters registered, `sacctmgr add account|user` without `cluster=` (older
# checkouts' tests, hand edits) changes both, and `show assoc` lists every one twice.
m_unregister() {
	install -d -m 0700 "${M_DBD_LOCK%/*}"
	(
		flock -w 120 7 || die "another sacctmgr change holds $M_DBD_LOCK"
		local clusters
		clusters=$(timeout 10 sacctmgr -n -P show cluster format=cluster 2>/dev/null) || exit 0
		grep -qx "$MULTI" <<<"$clusters" || exit 0
		say "removing cluster $MULTI from slurmdbd"
		sacctmgr_i remove cluster "$MULTI"
	) 7>>"$M_DBD_LOCK"
}

m_nodes_ready() {
	local spec name s end=$((SECONDS + WAIT_S)) tries=0
	while ((SECONDS < end)); do
		m_nodes_usable && return 0
		for spec in "${M_NODES[@]}"; do
			read -r name _ _ <<<"$spec"
			s=$(m_node_state "$name") || s=
			case $s in
			down | drained | draining | inval | fail | failing)
				if ((tries++ < 10)); then
					say "node $name is $s: resuming"
					mctl scontrol update nodename="$name" state=resume >/dev/null 2>&1 || true
				fi
				;;
			esac
		done
		sleep 0.2
	done
	say "nodes not usable; see $MVAR/log/slurmd-*.log and slurmctld.log"
	mctl sinfo -N >&2 || true
	return 1
}

cmd_start_multi() {
	need_root start-multi
	VERNUM=$(slurm_version)
	mkdir -p "${M_LOCK%/*}"
	exec 9>"$M_LOCK"
	flock -w 300 9 || die "another cluster.sh holds $M_LOCK"
	m_pick_var
	if m_healthy; then
		say "devmulti already running and healthy (state in $MVAR)"
		return 0
	fi
	local t0=$SECONDS
	# munge, MariaDB and slurmdbd belong to the main cluster; they must be up already.
	munge_ok || die "munge is not running: start the main cluster first (cluster.sh start)"
	timeout 10 sacctmgr -n show cluster >/dev/null 2>&1 ||
		die "slurmdbd does not answer: start the main cluster first (cluster.sh start)"
	ensure_fake_gpus # the same stand-in GPUs as the main node
	if [[ -r $METC/slurm.conf && $(m_installed_hash) != "$(m_config_hash)" ]]; then
		say "devmulti's templates changed: restarting it"
		m_stop_daemons
		MVAR=$M_OWN_VAR
	fi
	install -d -m 0755 "$MVAR" "$MVAR/state" "$MVAR/slurmd" "$MVAR/run" "$MVAR/log"
	if ! pid_of "$(m_ctld_pidfile)" slurmctld >/dev/null; then
		m_write_configs
	fi
	m_net_up
	m_ensure_accounting
	if ! pid_of "$(m_ctld_pidfile)" slurmctld >/dev/null; then
		say "starting slurmctld for $MULTI on port $M_CTLD_PORT"
		spawn "$MVAR/log/slurmctld.stdout" env SLURM_CONF="$METC/slurm.conf" slurmctld
	fi
	wait_for "devmulti slurmctld" "$WAIT_S" mctl scontrol ping
	local spec name
	for spec in "${M_NODES[@]}"; do
		read -r name _ _ <<<"$spec"
		pid_of "$(m_slurmd_pidfile "$name")" slurmd >/dev/null || m_start_slurmd "$name"
	done
	m_nodes_ready
	say "devmulti up in $((SECONDS - t0))s: $(mctl sinfo -h -N -o '%N=%T' | sort -u | paste -sd ' '), SLURM_CONF=$METC/slurm.conf"
}

m_stop_daemons() {
	local spec name
	if pid_of "$(m_ctld_pidfile)" slurmctld >/dev/null; then
		# Cancel what still runs, so no job step is left in a namespace about to go.
		local jobs
		jobs=$(mctl squeue -h -o %A 2>/dev/null | tr '\n' ' ') || jobs=
		if [[ -n ${jobs// /} ]]; then
			say "cancelling devmulti jobs: $jobs"
			# shellcheck disable=SC2086
			mctl scancel $jobs 2>/dev/null || true
			wait_for "devmulti jobs to end" 30 eval '[[ -z $(mctl squeue -h -o %A 2>/dev/null) ]]' || true
		fi
	fi
	for spec in "${M_NODES[@]}"; do
		read -r name _ _ <<<"$spec"
		stop_pid "$(m_slurmd_pidfile "$name")" slurmd
	done
	stop_pid "$(m_ctld_pidfile)" slurmctld
}

cmd_stop_multi() {
	need_root stop-multi
	mkdir -p "${M_LOCK%/*}"
	exec 9>"$M_LOCK"
	flock -w 300 9 || die "another cluster.sh holds $M_LOCK"
	m_pick_var
	m_stop_daemons
	# What the namespaces still hold (job steps that outlived the cancel) ends with them.
	local spec name ns pids
	for spec in "${M_NODES[@]}"; do
		read -r name _ _ <<<"$spec"
		ns=$(m_ns "$name")
		[[ -e /run/netns/$ns ]] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		if [[ -n ${pids// /} ]]; then
			say "ending what still runs in $ns: $pids"
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
		fi
	done
	m_net_down
	m_unregister || true
	say "devmulti stopped and removed from slurmdbd"
}

cmd_status_multi() {
	local ok=0 pid spec name s
	m_pick_var
	if pid=$(pid_of "$(m_ctld_pidfile)" slurmctld); then
		printf '%-16s ok (pid %s, port %s)\n' slurmctld "$pid" "$M_CTLD_PORT"
	else
		printf '%-16s DOWN\n' slurmctld
		ok=1
	fi
	for spec in "${M_NODES[@]}"; do
		read -r name _ _ <<<"$spec"
		s=$(m_node_state "$name" 2>/dev/null) || s=
		if pid=$(pid_of "$(m_slurmd_pidfile "$name")" slurmd); then
			printf '%-16s ok (pid %s, %s in %s) %s\n' "slurmd $name" "$pid" "$(m_addr "$name")" "$(m_ns "$name")" "${s:-unknown}"
		else
			printf '%-16s DOWN\n' "slurmd $name"
			ok=1
		fi
	done
	m_nodes_usable || ok=1
	printf 'SLURM_CONF=%s (state and logs in %s)\n' "$METC/slurm.conf" "$MVAR"
	if pid_of "$(m_ctld_pidfile)" slurmctld >/dev/null; then
		SLURM_CONF=$METC/slurm.conf timeout 10 sinfo 2>&1 || true
	fi
	return $ok
}
