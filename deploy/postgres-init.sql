-- The scaled profile's three schemas in one database (tools/scaled.py prepare_postgres does
-- the same for `make run-scaled`): the case API and Rasa both have an `events` table.
CREATE SCHEMA IF NOT EXISTS power_app;
CREATE SCHEMA IF NOT EXISTS power_cases;
CREATE SCHEMA IF NOT EXISTS power_rasa;
