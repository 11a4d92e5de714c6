-- 004_host_jupyter: whether the host's agent serves a Jupyter notebook per rental (issue 13): 1 when it
-- does (account hosts with jupyter-notebook or jupyter-server and no --no-jupyter), 0 otherwise.
-- Hosts registered before this version said nothing, so they offer none.
ALTER TABLE hosts ADD COLUMN jupyter BIGINT NOT NULL DEFAULT 0 CHECK (jupyter IN (0, 1));
