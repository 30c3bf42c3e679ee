-- A pipeline written with `program_code` (Feldera's current API) carries its program here, as JSON: the SQL, its
-- compilation outcome and the connectors its SQL declares. NULL for pipelines that name a program.
ALTER TABLE pipeline ADD COLUMN program TEXT;
