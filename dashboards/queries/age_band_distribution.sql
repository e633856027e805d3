-- How are the faces seen over the last 30 days distributed across age bands?
-- The band is that of the midpoint of Rekognition's estimated age range; the
-- edges match the QuickSight dataset's age_band field (dashboards/measures.py).
-- Faces without an age estimate are counted as 'unknown'. Band labels sort in
-- age order as plain strings. A face is one sighting, not one person: a
-- shopper seen in three stills counts three times.
-- Each record_id counts once: a redelivered or re-analyzed image repeats its
-- faces' record_ids, and only the first analysis of each is kept.
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        age_low,
        age_high,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
),
ages AS (
    -- double, not 2.0: a DECIMAL literal would make this decimal arithmetic in Trino
    SELECT CAST(age_low + age_high AS double) / 2 AS age_mid
    FROM faces_once
    WHERE copy_number = 1
)
SELECT
    CASE
        WHEN age_mid IS NULL THEN 'unknown'
        WHEN age_mid < 18 THEN '0-17'
        WHEN age_mid < 25 THEN '18-24'
        WHEN age_mid < 35 THEN '25-34'
        WHEN age_mid < 45 THEN '35-44'
        WHEN age_mid < 55 THEN '45-54'
        WHEN age_mid < 65 THEN '55-64'
        ELSE '65+'
    END AS age_band,
    count(*) AS faces,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share_pct
FROM ages
GROUP BY 1
ORDER BY age_band
