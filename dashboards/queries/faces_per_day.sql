-- How many faces (sightings, not people) did each store's cameras see per day (store-local date) over the last 30 days?
-- A face is one detection in one still: a shopper who passes two cameras, or
-- stays in view for two captures, counts twice. Read it as sightings; the
-- pipeline keeps no identity and tracks no one (people_present_by_zone_hour.sql
-- estimates how many people are in view). The day is dt, the capture date on
-- the store's wall clock, which costs no column read. images_with_faces counts
-- the distinct stills those faces were found in (stills without faces are in
-- the images table). Each record_id counts once (the first analysis of a
-- re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        dt,
        store_id,
        image_id,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    dt AS capture_day,
    store_id,
    count(*) AS faces,
    count(DISTINCT image_id) AS images_with_faces
FROM faces_once
WHERE copy_number = 1
GROUP BY dt, store_id
ORDER BY capture_day, store_id
