-- How many faces showed each dominant emotion in each hour of the day (store-local time) over the last 30 days (the stacked bar of emotion count by hour)?
-- One row per hour and emotion; hours without faces are absent. The hour is
-- hour(captured_at_local), the store's wall clock (its IANA time zone,
-- daylight saving included), so stores in different time zones line up by
-- their opening hours. Counts are face sightings, not people.
-- The window is a predicate on the partition column dt (the store-local
-- capture date, a yyyy-MM-dd string, so string order is date order): Athena
-- reads only those days' partitions. Each record_id counts once (the first
-- analysis of a re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        captured_at_local,
        dominant_emotion,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    hour(captured_at_local) AS capture_hour,
    dominant_emotion AS emotion,
    count(*) AS faces
FROM faces_once
WHERE copy_number = 1
GROUP BY hour(captured_at_local), dominant_emotion
ORDER BY capture_hour, emotion
