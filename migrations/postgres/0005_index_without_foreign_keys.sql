-- Index rows are deleted explicitly by the write path and resources are never deleted (deletion is a
-- versioned tombstone), so the foreign keys of the index tables only cost a parent lookup and a row
-- lock per inserted row.
ALTER TABLE search_string DROP CONSTRAINT search_string_rid_fkey;
ALTER TABLE search_token DROP CONSTRAINT search_token_rid_fkey;
ALTER TABLE search_date DROP CONSTRAINT search_date_rid_fkey;
ALTER TABLE search_number DROP CONSTRAINT search_number_rid_fkey;
ALTER TABLE search_quantity DROP CONSTRAINT search_quantity_rid_fkey;
ALTER TABLE search_reference DROP CONSTRAINT search_reference_rid_fkey;
ALTER TABLE search_uri DROP CONSTRAINT search_uri_rid_fkey;
ALTER TABLE compartment DROP CONSTRAINT compartment_rid_fkey;
