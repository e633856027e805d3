-- How many people does a camera have in view, on average and at the peak, per store zone and hour of the day (store-local time) over the last 30 days?
-- Method: people_present is the average number of faces kept per analyzed
-- still (images.faces_kept) of the zone's cameras in that local hour, over
-- the window's days; peak_people_present is the most faces in any one of
-- those stills. It estimates how many people a camera sees at a moment, not
-- how many came: the pipeline keeps no identity and tracks no one, so the
-- same shopper in ten stills is in each of them, and a person seen by two
-- cameras counts in both (add zones or cameras together and they count
-- twice). Stills are taken on motion, so the average describes the moments
-- the camera took a still; people facing away, occluded or below the
-- detection floors are not counted. Stills with nobody in them count as 0:
-- they come from the images table, one row per still, which the faces table
-- cannot give. Quarantined stills (never analyzed) are left out.
-- The hour is hour(captured_at_local), the store's wall clock; the window is
-- on dt, the store-local capture date. Each image_id counts once: a
-- redelivered or re-analyzed still repeats its image_id, and only its first
-- settlement is kept.
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH images_once AS (
    SELECT
        store_id,
        zone,
        device_id,
        camera_id,
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
    count(DISTINCT device_id || '/' || camera_id) AS cameras,
    count(*) AS stills,
    round(avg(CAST(faces_kept AS double)), 2) AS people_present,
    max(faces_kept) AS peak_people_present
FROM images_once
WHERE copy_number = 1 AND outcome = 'analyzed'
GROUP BY store_id, zone, hour(captured_at_local)
ORDER BY store_id, zone, capture_hour
