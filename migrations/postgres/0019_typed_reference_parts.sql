-- A reference parameter whose expression is another's restricted to one target type
-- (Observation's `patient` is `Observation.subject.where(resolve() is Patient)`) is read in the
-- other's rows that point at that type (`SearchParam::part_of`): its own rows of that type,
-- written before, repeat the other's and are never read again. Its rows of no type (references
-- by URL alone) stay. One statement per target type, over the keys (`param_key`) of the
-- parameters the registry finds; a unit test (`the_migration_drops_the_rows_of_every_typed_part`)
-- checks the lists against it.
DELETE FROM search_reference WHERE target_type = 'Location' AND param_key IN (597890882, 1150165307);
DELETE FROM search_reference WHERE target_type = 'Patient' AND param_key IN (28173402, 51496090, 137264727, 163467523, 166493528, 194638196, 293869852, 347792807, 369250065, 389230485, 399638531, 403658142, 447509057, 505800201, 566404496, 570657562, 651051284, 654756486, 668675374, 791074672, 990957590, 1075288927, 1078243133, 1079031763, 1119826218, 1143581574, 1298679805, 1318687863, 1404642742, 1408146477, 1416154570, 1441842674, 1497263674, 1534958871, 1553556679, 1624093592, 1773348592, 1785741230, 1974649431, 2036789113);
DELETE FROM search_reference WHERE target_type = 'Practitioner' AND param_key IN (352020557, 935131062, 1103224556, 1302301100);
DELETE FROM search_reference WHERE target_type = 'RelatedPerson' AND param_key IN (120555592);
