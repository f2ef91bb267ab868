--[[
Slurm GPU portal: job_submit/lua policy. Install next to slurm.conf (e.g.
/etc/slurm/job_submit.lua) and set `JobSubmitPlugins=lua` (Debian: slurm-wlm-basic-plugins
ships job_submit_lua.so). slurmctld reloads this file when it changes.

Why: the portal records what each job asks for (GPUs, CPUs, memory, time, partition,
account, QOS, tag) and a manager approves exactly that. A job the portal submits carries
its tag in the comment: `portal-job-<uuid>` or `portal-session-<uuid>`. Without this file
the owner can `scontrol update JobId=… TresPerNode=gres:gpu:a100:4` (or Account=,
Partition=, NumCPUs=, Comment=…) from the login node, before approval or after release,
and run more than was approved (issue #12, finding 2).

Rules, for anyone who is not an operator (OPERATOR_UIDS):
  * a job whose current comment is a portal tag cannot be changed with `scontrol update`,
    except a plain hold or release (`scontrol hold|uhold|release`: priority 0 / INFINITE,
    nothing else), which changes no resources. Cancelling (scancel) is not an update and
    stays allowed;
  * no job can be given a portal tag with `scontrol update Comment=…`.
The portal's own changes (operator hold, moving an approved job to <account>_approved,
release) run as an operator and pass. New submissions are never changed or refused here.

Sites: list in OPERATOR_UIDS the uid of SlurmUser and of the account the portal runs its
operator commands as (the portal's service user); root (0) is always one.
]]

local OPERATOR_UIDS = {
	[0] = true, -- root (the dev cluster's SlurmUser and the portal's identity there)
	-- [64030] = true, -- e.g. the "slurm" SlurmUser
	-- [990] = true,   -- e.g. the portal's service account
}

local TAG_PREFIXES = { "portal-job-", "portal-session-" }

-- String fields a `scontrol update` may set: any of them set means "a real change".
local STRING_FIELDS = {
	"account", "admin_comment", "batch_features", "burst_buffer", "comment",
	"cpus_per_tres", "dependency", "exc_nodes", "extra", "features", "gres", "licenses",
	"mem_per_tres", "name", "partition", "prefer", "qos", "req_nodes", "reservation",
	"std_err", "std_in", "std_out", "tres_bind", "tres_freq", "tres_per_job",
	"tres_per_node", "tres_per_socket", "tres_per_task", "wckey", "work_dir",
}

-- Numeric fields: set when their value is none of Slurm's "not given" markers.
local NUMBER_FIELDS = {
	"begin_time", "contiguous", "cores_per_socket", "cpus_per_task", "delay_boot",
	"end_time", "max_cpus", "max_nodes", "min_cpus", "min_nodes", "nice", "ntasks_per_node",
	"ntasks_per_socket", "ntasks_per_tres", "num_tasks", "pn_min_cpus", "pn_min_memory",
	"pn_min_tmp_disk", "reboot", "req_switch", "requeue", "shared", "site_factor",
	"sockets_per_node", "threads_per_core", "time_limit", "time_min", "wait4switch",
}

local function is_portal_tag(value)
	if type(value) ~= "string" then
		return false
	end
	for _, prefix in ipairs(TAG_PREFIXES) do
		if string.sub(value, 1, #prefix) == prefix then
			return true
		end
	end
	return false
end

local function unset_number(value)
	return value == nil or value == 0 or value == slurm.NO_VAL or value == slurm.NO_VAL16
		or value == slurm.NO_VAL8 or value == slurm.NO_VAL64
		or value >= 18446744073709551615 -- NO_VAL64 as a Lua double
end

-- The first field this update sets besides the priority, or nil.
local function changed_field(job_desc)
	for _, name in ipairs(STRING_FIELDS) do
		local value = job_desc[name]
		if value ~= nil and value ~= "" then
			return name
		end
	end
	for _, name in ipairs(NUMBER_FIELDS) do
		if not unset_number(job_desc[name]) then
			return name
		end
	end
	return nil
end

local function is_hold_or_release(job_desc)
	local priority = job_desc.priority
	return (priority == 0 or priority == slurm.INFINITE) and changed_field(job_desc) == nil
end

function slurm_job_submit(job_desc, part_list, submit_uid)
	return slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
	if OPERATOR_UIDS[modify_uid] then
		return slurm.SUCCESS
	end
	local current = job_rec and job_rec.comment
	if is_portal_tag(current) then
		if is_hold_or_release(job_desc) then
			return slurm.SUCCESS
		end
		slurm.log_info("job_submit.lua: uid %d may not change portal job %s (%s)",
			modify_uid, tostring(job_rec.job_id), tostring(changed_field(job_desc) or "priority"))
		slurm.log_user("This job was submitted through the portal (and may have been " ..
			"approved as it is): it cannot be changed from the shell. Cancel it and " ..
			"submit a new request in the portal instead.")
		return slurm.ESLURM_ACCESS_DENIED
	end
	if is_portal_tag(job_desc.comment) then
		slurm.log_info("job_submit.lua: uid %d may not give job %s a portal tag",
			modify_uid, tostring(job_rec and job_rec.job_id))
		slurm.log_user("Comments starting with portal-job- or portal-session- are " ..
			"reserved for the portal.")
		return slurm.ESLURM_ACCESS_DENIED
	end
	return slurm.SUCCESS
end

slurm.log_info("job_submit.lua: portal policy loaded")
return slurm.SUCCESS
