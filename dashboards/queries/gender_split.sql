-- How do the faces seen over the last 30 days split by predicted gender?
-- Faces without a gender prediction are counted as 'unknown'.
SELECT
    coalesce(gender, 'unknown') AS gender,
    count(*) AS faces,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share_pct
FROM faces
WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
GROUP BY coalesce(gender, 'unknown')
ORDER BY gender
