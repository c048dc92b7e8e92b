-- A population-level search sorted by a date, latest first (`_sort=-date`), reads the dates of
-- the type in descending order of their end and stops after the page: the lookup index
-- (res_type, param, lo, hi) serves the ascending order, this one the descending.
CREATE INDEX search_date_sort_hi ON search_date (res_type, param, hi);
