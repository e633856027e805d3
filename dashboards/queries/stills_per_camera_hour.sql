-- How many stills did each camera deliver in each hour of each day (store-local time) over the last 30 days, so that a camera that went quiet shows as a gap?
-- One row per camera and local hour that had at least one still; an hour
-- without a row is a gap. Stills are taken on motion, so a gap is either an
-- hour nothing moved or a camera, device or uplink that stopped: compare the
-- camera with the same hour of other days and with its store's other cameras.
-- analyzed and quarantined split the stills by outcome (a quarantined still
-- reached the pipeline but could not be analyzed). Images of devices in no
-- store (store_id '_unregistered') belong to no store's cameras and are left
-- out. The day is dt and the hour hour(captured_at_local), both on the
-- store's wall clock. Each image_id counts once (the first settlement of a
-- redelivered still).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH images_once AS (
    SELECT
        dt,
        store_id,
        zone,
        device_id,
        camera_id,
        captured_at_local,
        outcome,
        row_number() OVER (PARTITION BY image_id ORDER BY processed_at) AS copy_number
    FROM images
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_unregistered'
        AND store_id <> '_check'
)
SELECT
    store_id,
    zone,
    device_id,
    camera_id,
    dt AS capture_day,
    hour(captured_at_local) AS capture_hour,
    count(*) AS stills,
    count(CASE WHEN outcome = 'analyzed' THEN 1 END) AS analyzed,
    count(CASE WHEN outcome = 'quarantined' THEN 1 END) AS quarantined
FROM images_once
WHERE copy_number = 1
GROUP BY store_id, zone, device_id, camera_id, dt, hour(captured_at_local)
ORDER BY store_id, zone, device_id, camera_id, capture_day, capture_hour
