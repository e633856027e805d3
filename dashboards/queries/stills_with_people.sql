-- What share of the analyzed stills had anyone in them, per store zone and hour of the day (store-local time) over the last 30 days?
-- A still "has people" when at least one face was kept in it
-- (images.faces_kept > 0); share_pct = 100 * stills with people / analyzed
-- stills, rounded to 1 decimal. Stills are taken on motion, so an empty still
-- is a moment something moved and no face was seen (a passer-by facing away,
-- a door, a trolley). Quarantined stills are left out. The hour is
-- hour(captured_at_local), the store's wall clock. Each image_id counts once
-- (the first settlement of a redelivered still).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH images_once AS (
    SELECT
        store_id,
        zone,
        captured_at_local,
        outcome,
        faces_kept,
        row_number() OVER (PARTITION BY image_id ORDER BY processed_at) AS copy_number
    FROM images
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    store_id,
    zone,
    hour(captured_at_local) AS capture_hour,
    count(*) AS stills,
    count(CASE WHEN faces_kept > 0 THEN 1 END) AS stills_with_people,
    round(100 * avg(CASE WHEN faces_kept > 0 THEN 1 ELSE 0 END), 1) AS share_pct
FROM images_once
WHERE copy_number = 1 AND outcome = 'analyzed'
GROUP BY store_id, zone, hour(captured_at_local)
ORDER BY store_id, zone, capture_hour
