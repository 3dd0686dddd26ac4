DELETE FROM lead_days WHERE day = $day;
