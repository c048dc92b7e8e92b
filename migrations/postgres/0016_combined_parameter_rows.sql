-- Observation's `combo-*` search parameters are searched in the rows of the parameters they
-- combine (`combo-code` in `code` and `component-code`, see `SearchParam::stored_in`), so their
-- own rows, written before, are never read again: a sixth of the token and string rows and half
-- of the quantity rows of the synthetic population.
DELETE FROM search_token WHERE res_type = 'Observation' AND param LIKE 'combo-%';
DELETE FROM search_string WHERE res_type = 'Observation' AND param LIKE 'combo-%';
DELETE FROM search_quantity WHERE res_type = 'Observation' AND param LIKE 'combo-%';
