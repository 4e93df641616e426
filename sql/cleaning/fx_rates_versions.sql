-- The versions of the reference rates stored (one, once loaded): the clean step loads the rates file only when
-- it is not the one stored.
SELECT DISTINCT version FROM reference.fx_rates
