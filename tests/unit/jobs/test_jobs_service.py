"""Jobs and templates through the real services, with Slurm and the workspace faked."""

import pytest

from adapters.errors import SlurmRejected, SlurmUnreachable
from portal import db
from portal.models import AuditEvent, Job, ProjectRole
from portal.services import Forbidden, NotFound, ServiceError, jobdelete, jobtemplates
from portal.services import jobs as jobsvc


def test_job_is_recorded_written_as_the_user_and_submitted_into_the_project(
        member, backend, job_data):
    user = member()
    job = jobsvc.create_job(user, {**job_data, "command": "echo \"$(id)\" `x` 中文\n"})
    assert job.state == "pending" and job.slurm_job_id == "1000"
    spec = backend.scheduler.specs["1000"]
    assert spec.account == "proja" and spec.job_name == "train-1" and spec.cpus == 2
    assert spec.mem == "4G" and spec.comment == f"portal-job-{job.uuid}"
    assert spec.workdir == job.directory and spec.output == job.directory + "/output.log"
    assert job.directory.startswith("/nonexistent/portal-jobs/")
    assert backend.files.dirs[job.directory] == "nobody"
    command = backend.files.files[job.directory + "/command.sh"].decode()
    assert command == "echo \"$(id)\" `x` 中文\n"
    assert "$(id)" not in job.script and backend.files.files[job.directory + "/job.sh"]
    assert [e.kind for e in job.events] == ["submitted"]
    assert db.session.query(AuditEvent).filter_by(action="job.create").count() == 1


def test_gpu_jobs_ask_for_gres(member, backend, job_data):
    job = jobsvc.create_job(member(), {**job_data, "gpu_model": "a100", "gpu_count": "2"})
    assert backend.scheduler.specs[job.slurm_job_id].gres == "gpu:a100:2"


@pytest.mark.parametrize("change,code", [
    ({"name": "a;b"}, "invalid_name"), ({"command": ""}, "invalid_command"),
    ({"image": "other"}, "image_not_allowed"), ({"cpus": "0"}, "invalid_cpus"),
    ({"command": "a\x00b"}, "invalid_command"), ({"name": "$(reboot)"}, "invalid_name"),
])
def test_bad_input_changes_nothing(member, backend, job_data, change, code):
    user = member()
    with pytest.raises(ServiceError) as err:
        jobsvc.create_job(user, {**job_data, **change})
    assert err.value.code == code
    assert db.session.query(Job).count() == 0 and backend.scheduler.count("sbatch") == 0


def test_slurm_refusal_keeps_nothing(member, backend, job_data):
    backend.scheduler.fail_submit = SlurmRejected("Invalid account or account/partition")
    with pytest.raises(ServiceError) as err:
        jobsvc.create_job(member(), job_data)
    assert err.value.code == "slurm_rejected" and "Invalid account" in err.value.message
    assert db.session.query(Job).count() == 0 and backend.files.files == {}


def test_unreachable_slurm_leaves_the_job_submitting_for_the_worker(member, backend, job_data):
    backend.scheduler.fail_submit = SlurmUnreachable("Unable to contact slurm controller")
    job = jobsvc.create_job(member(), job_data)
    assert job.state == "submitting" and job.slurm_job_id is None and "contact" in job.error


def test_without_a_project_nothing_runs(ctx, make_user, backend, job_data):
    with pytest.raises(ServiceError) as err:
        jobsvc.create_job(make_user("loner"), job_data)
    assert err.value.code == "no_project"


def test_list_shows_own_jobs_and_managers_see_members(member, backend, job_data):
    manager = member("maria", role=ProjectRole.MANAGER)
    ursula, victor = member("ursula"), member("victor")
    for user in (manager, ursula, victor):
        jobsvc.create_job(user, job_data)
    other = member("olga", account="projb")
    jobsvc.create_job(other, job_data)
    assert {j.user.username for j in jobsvc.visible_jobs(ursula)} == {"ursula"}
    assert {j.user.username for j in jobsvc.visible_jobs(manager)} == {"maria", "ursula",
                                                                       "victor"}


def test_other_users_job_is_not_found(member, backend, job_data):
    job = jobsvc.create_job(member("ursula"), job_data)
    with pytest.raises(NotFound):
        jobsvc.get_job(member("victor"), job.id)


def test_delete_cancels_running_and_hides(member, backend, job_data):
    user = member()
    job = jobsvc.create_job(user, job_data)
    jobdelete.delete_job(user, job.id)
    assert backend.scheduler.jobs[job.slurm_job_id].state.value == "cancelled"
    assert job.hidden and jobsvc.visible_jobs(user) == []
    ended = jobsvc.create_job(user, job_data)
    ended.state = "completed"
    db.session.commit()
    jobdelete.delete_job(user, ended.id)
    assert backend.scheduler.count("scancel") == 1 and ended.hidden


def test_template_runs_are_named_with_a_growing_number(member, backend, job_data):
    user = member()
    template = jobtemplates.create_template(user, {**job_data, "name": "resnet"})
    assert jobtemplates.form_defaults(template)["name"] == "resnet-1"
    first = jobtemplates.run_template(user, template.id)
    second = jobtemplates.run_template(user, template.id, {"name": "my-own-name"})
    third = jobtemplates.run_template(user, template.id, {"cpus": "3"})
    assert [first.name, second.name, third.name] == ["resnet-1", "my-own-name", "resnet-3"]
    assert third.cpus == 3 and third.template_id == template.id


def test_template_of_another_project_or_user_is_refused(member, backend, job_data):
    bob = member("bob", account="proja")
    member_b = member("bobby", account="projb")
    template = jobtemplates.create_template(bob, {**job_data, "name": "t"})
    from portal.models import Membership, Project

    projb = db.session.query(Project).filter_by(account="projb").one()
    db.session.add(Membership(user_id=bob.id, project_id=projb.id))
    bob.current_project_id = projb.id
    db.session.commit()
    with pytest.raises(Forbidden) as err:
        jobtemplates.run_template(bob, template.id)
    assert err.value.code == "other_project"
    with pytest.raises(NotFound):
        jobtemplates.get_template(member_b, template.id)


def test_template_crud_and_duplicates(member, backend, job_data):
    user = member()
    template = jobtemplates.create_template(user, {**job_data, "name": "t1"})
    with pytest.raises(ServiceError) as err:
        jobtemplates.create_template(user, {**job_data, "name": "t1"})
    assert err.value.code == "duplicate"
    jobtemplates.update_template(user, template.id, {**job_data, "name": "t2", "cpus": "5"})
    assert (template.name, template.cpus) == ("t2", 5)
    jobtemplates.delete_template(user, template.id)
    assert jobtemplates.list_templates(user) == []
