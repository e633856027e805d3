-- What share of the faces were turned toward the camera, per store zone and hour of the day (store-local time) over the last 30 days (attention)?
-- A face is turned toward the camera when abs(pose_yaw) <= 30 and
-- abs(pose_pitch) <= 20 (degrees, inclusive; dashboards/measures.py says why
-- and holds the same limits for QuickSight). attention_pct = 100 * faces
-- toward the camera / faces with a pose estimate, rounded to 1 decimal; NULL
-- where no face had a pose (the local analyzer estimates none). For a camera
-- beside a display or sign this approximates looking at it; it needs no
-- identity and says nothing about who. Faces are sightings: a shopper who
-- looks for three stills counts three times. The hour is
-- hour(captured_at_local), the store's wall clock. Each record_id counts once
-- (the first analysis of a re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        store_id,
        zone,
        captured_at_local,
        pose_yaw,
        pose_pitch,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    store_id,
    zone,
    hour(captured_at_local) AS capture_hour,
    count(*) AS faces,
    count(CASE WHEN pose_yaw IS NOT NULL AND pose_pitch IS NOT NULL THEN 1 END) AS faces_with_pose,
    count(CASE WHEN abs(pose_yaw) <= 30 AND abs(pose_pitch) <= 20 THEN 1 END) AS faces_toward_camera,
    round(
        100 * avg(
            CASE
                WHEN abs(pose_yaw) <= 30 AND abs(pose_pitch) <= 20 THEN 1
                WHEN pose_yaw IS NOT NULL AND pose_pitch IS NOT NULL THEN 0
            END
        ),
        1
    ) AS attention_pct
FROM faces_once
WHERE copy_number = 1
GROUP BY store_id, zone, hour(captured_at_local)
ORDER BY store_id, zone, capture_hour
