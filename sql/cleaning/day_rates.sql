-- The EUR rate of every (currency as sent, day) of the events being cleaned: the code trimmed and
-- upper-cased (' eur' is EUR), then the latest rate published on or before the event's day (the ECB
-- publishes on working days: a Sunday's events take Friday's rate). rate_to_eur is NULL when the code
-- has no rate on or before that day; priced events in it are set aside as unknown_currency.
CREATE OR REPLACE TEMP TABLE day_rates AS
SELECT d.currency, d.event_date, r.rate_to_eur, r.valid_from AS rate_day
FROM (SELECT DISTINCT currency, upper(trim(currency)) AS code, event_date
      FROM day_events WHERE currency IS NOT NULL) d
ASOF LEFT JOIN reference.fx_rates r ON r.currency = d.code AND d.event_date >= r.valid_from
