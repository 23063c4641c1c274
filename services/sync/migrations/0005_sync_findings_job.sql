CREATE INDEX sync_findings_job ON sync_findings (job_id, kind, reason)
