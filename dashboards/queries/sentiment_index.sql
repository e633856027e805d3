-- What share of the faces with a positive or negative emotion were positive, per store, zone and day (store-local date) over the last 30 days (the sentiment index)?
-- positive = happy, calm; negative = sad, angry, confused, disgusted, fear;
-- surprised is neutral and left out (dashboards/measures.py holds the same
-- split for the QuickSight sentiment fields). The day is dt, the capture date
-- on the store's wall clock.
-- sentiment_index = 100 * positive / (positive + negative), NULL for a zone
-- and day with neither. The CASE yields integers on purpose: avg() of
-- integers is a double in Trino, avg() of DECIMAL literals (1.0) would be
-- rounded to one decimal place before the * 100.
-- Each record_id counts once (the first analysis of a re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        dt,
        store_id,
        zone,
        dominant_emotion,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    dt AS capture_day,
    store_id,
    zone,
    count(CASE WHEN dominant_emotion IN ('happy', 'calm') THEN 1 END) AS positive_faces,
    count(CASE WHEN dominant_emotion IN ('sad', 'angry', 'confused', 'disgusted', 'fear') THEN 1 END) AS negative_faces,
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
GROUP BY dt, store_id, zone
ORDER BY capture_day, store_id, zone
