-- How do the faces seen over the last 30 days split by predicted gender?
-- Faces without a gender prediction are counted as 'unknown'. Each record_id
-- counts once (the first analysis of a re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        gender,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    coalesce(gender, 'unknown') AS gender,
    count(*) AS faces,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share_pct
FROM faces_once
WHERE copy_number = 1
GROUP BY coalesce(gender, 'unknown')
ORDER BY gender
