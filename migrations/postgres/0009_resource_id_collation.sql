-- Reference targets (search_reference.target_id) compare with the "C" collation, so joining them
-- to resource.res_id under the database's default collation cast the id and could not use the
-- (res_type, res_id) index: every _include and chain hashed the whole resource table. Ids are
-- ASCII ([A-Za-z0-9\-\.]{1,64}), so byte order is also the natural order for them.
ALTER TABLE resource ALTER COLUMN res_id TYPE TEXT COLLATE "C";
