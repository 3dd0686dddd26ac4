-- Leads of one day by right and priority, for the run summary.
SELECT right_id, priority, count(*) AS n
FROM lead_days WHERE day = $day GROUP BY right_id, priority ORDER BY right_id, priority;
