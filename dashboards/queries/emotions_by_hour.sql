-- How many faces showed each dominant emotion in each hour of the day (UTC) over the last 30 days (the stacked bar of emotion count by hour)?
-- One row per hour and emotion; hours without faces are absent. Hours are UTC,
-- as captured_at is: shift them for a store's local time.
-- The window is a predicate on the partition column dt (a yyyy-MM-dd string,
-- so string order is date order): Athena reads only those days' partitions.
SELECT
    hour(captured_at) AS capture_hour,
    dominant_emotion AS emotion,
    count(*) AS faces
FROM faces
WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
GROUP BY hour(captured_at), dominant_emotion
ORDER BY capture_hour, emotion
