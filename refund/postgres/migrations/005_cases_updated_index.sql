-- Serves ListCases, the shop's back office paging through cases by their
-- last change: keyset pagination on (updated_at, id), with or without a
-- status filter. The status index's leading column lets a filtered listing
-- read only its status's rows, still in page order.
CREATE INDEX cases_updated_at_id_idx ON cases (updated_at, id);
CREATE INDEX cases_status_updated_at_id_idx ON cases (status, updated_at, id);
