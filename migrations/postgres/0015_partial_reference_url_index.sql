-- Only references by URL (to other servers, canonicals) have a `url`, a few in a hundred on the
-- synthetic population, yet every reference row had an entry in this index (188 B per resource of
-- a 5.4 kB total at 300 patients). A search by URL compares `url` with a value, which implies it is
-- not NULL, so both planners still use the partial index for it.
DROP INDEX search_reference_url;
CREATE INDEX search_reference_url ON search_reference (res_type, param, url) WHERE url IS NOT NULL;
