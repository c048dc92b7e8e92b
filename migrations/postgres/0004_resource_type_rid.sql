-- Resources of one type in key order: unfiltered type searches and cursor pages read this index in
-- order instead of sorting the whole type.
CREATE INDEX resource_type_rid ON resource (res_type, rid);
