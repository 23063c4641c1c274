CREATE TABLE sync_findings (job_id BIGINT NOT NULL, order_id BIGINT NOT NULL, line_id BIGINT NOT NULL, reason TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL)
