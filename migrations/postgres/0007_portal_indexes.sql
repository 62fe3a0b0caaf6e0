-- The portal home lists a client's pending signing requests ordered by (created_at, id).
-- signing_requests_by_contact lacked the id, so neither planner could both bound the read by
-- client and deliver the order from it: both walked signing_requests_by_firm_created, reading
-- every signing request of the firm and filtering by contact after. With the id at the end,
-- one index does both; the old index is a prefix of the new one, so it goes.
CREATE INDEX signing_requests_by_contact_status ON signing_requests (firm_id, contact_id, status, created_at, id);
DROP INDEX signing_requests_by_contact;
