-- `search_reference_target (target_type, target_id, param_key)` served lookups by target before
-- index rows were keyed by their parameter. Every lookup by target now names the parameter
-- (`_has`, `_revinclude`, and reverse chains name the referring type and parameter), so
-- `search_reference_lookup (param_key, target_id, target_type)` serves each of them; the second
-- index of the same columns only cost space (on PostgreSQL about 100 B per resource of the
-- synthetic population) and time on every write.
DROP INDEX search_reference_target;
