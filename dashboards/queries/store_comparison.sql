-- How do the stores compare over the last 30 days: face sightings, sightings per day, zones, smiling share, average estimated age and sentiment index?
-- Faces are sightings, not people: a shopper in view for three stills counts
-- three times (people_present_by_zone_hour.sql estimates people in view).
-- faces_per_day divides by the store-local days (dt) a store had faces, so a
-- store that went live mid-window is not penalised. avg_age averages the
-- midpoints of the estimated age ranges. sentiment_index is defined as in
-- sentiment_index.sql. Each record_id counts once (the first analysis of a
-- re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        store_id,
        dt,
        zone,
        smile,
        age_low,
        age_high,
        dominant_emotion,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    store_id,
    count(*) AS faces,
    count(DISTINCT dt) AS days_with_faces,
    round(CAST(count(*) AS double) / count(DISTINCT dt), 1) AS faces_per_day,
    count(DISTINCT zone) AS zones,
    round(100 * avg(CAST(smile AS double)), 1) AS smiling_pct,
    round(avg(CAST(age_low + age_high AS double) / 2), 1) AS avg_age,
    round(
        100 * avg(
            CASE
                WHEN dominant_emotion IN ('happy', 'calm') THEN 1
                WHEN dominant_emotion IN ('sad', 'angry', 'confused', 'disgusted', 'fear') THEN 0
            END
        ),
        1
    ) AS sentiment_index
FROM faces_once
WHERE copy_number = 1
GROUP BY store_id
ORDER BY faces DESC, store_id
