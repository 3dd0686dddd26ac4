-- Days on which each seller had leads, for the repeat-infringement rule.
SELECT DISTINCT source, seller_id, day FROM lead_days WHERE day <> ALL($skip_days);
