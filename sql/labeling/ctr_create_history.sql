-- Per impression of the range (event_row: its clean.events rowid), its {side}'s 7-day history, filled slice by slice.
CREATE OR REPLACE TEMP TABLE ctr_{side}_history (event_row BIGINT, impressions INTEGER, clicks INTEGER)
