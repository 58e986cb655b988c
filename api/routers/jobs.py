"""Background job state and progress."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, status

from api.deps import JobsDep, PrincipalDep

router = APIRouter(tags=["jobs"])


def _visible(job_actor: str, principal) -> bool:
    return principal.can("jobs.read_all") or job_actor == principal.actor


@router.get("/jobs")
def list_jobs(jobs: JobsDep, principal: PrincipalDep, limit: int = 50) -> list[dict]:
    """The caller's recent jobs (all jobs for admins), newest first."""
    if not principal.is_authenticated:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "sign in first", headers={"WWW-Authenticate": "Bearer"}
        )
    actor = None if principal.can("jobs.read_all") else principal.actor
    return [asdict(j) for j in jobs.list(actor=actor, limit=min(max(limit, 1), 500))]


@router.get("/jobs/{job_id}")
def job_status(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> dict:
    """State (queued, running, done, failed), progress 0..1, message, result or error of one job."""
    job = jobs.status(job_id)
    if job is None or not _visible(job.actor, principal):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return asdict(job)
