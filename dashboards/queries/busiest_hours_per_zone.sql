-- Which are the three busiest hours of the day (store-local time) in each store zone over the last 30 days, by face sightings?
-- Busy = most face sightings (a shopper in view for three stills counts three
-- times). The hour is hour(captured_at_local): the store's own wall clock, so
-- a lunch rush shows at noon whatever the store's time zone. Ties go to the
-- earlier hour, so every zone lists at most three hours, ranked 1 to 3.
-- Each record_id counts once (the first analysis of a re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        store_id,
        zone,
        captured_at_local,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
),
hourly AS (
    SELECT
        store_id,
        zone,
        hour(captured_at_local) AS capture_hour,
        count(*) AS faces
    FROM faces_once
    WHERE copy_number = 1
    GROUP BY store_id, zone, hour(captured_at_local)
),
ranked AS (
    SELECT
        store_id,
        zone,
        capture_hour,
        faces,
        row_number() OVER (PARTITION BY store_id, zone ORDER BY faces DESC, capture_hour) AS hour_rank
    FROM hourly
)
SELECT store_id, zone, capture_hour, faces, hour_rank
FROM ranked
WHERE hour_rank <= 3
ORDER BY store_id, zone, hour_rank
