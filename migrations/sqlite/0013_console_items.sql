-- The console's work lists (tasks, signing requests, invoices) page newest first through a
-- firm's rows, often of one status: these indexes let a status filter read only the rows of
-- that status, in page order, however many of the firm's rows have another.
CREATE INDEX tasks_by_firm_status_created ON tasks (firm_id, status, created_at, id);
CREATE INDEX signing_requests_by_firm_status_created
    ON signing_requests (firm_id, status, created_at, id);
CREATE INDEX invoices_by_firm_status_created ON invoices (firm_id, status, created_at, id);
