-- What share of the faces seen over the last 30 days showed each dominant emotion (the pie of emotions)?
-- share_pct is a percentage of all faces in the window, rounded to 2 decimals.
-- Each record_id counts once (the first analysis of a re-analyzed image).
-- The deployment check's rows (store_id '_check', shopper-sentiment check)
-- are no store's and are left out.
WITH faces_once AS (
    SELECT
        dominant_emotion,
        row_number() OVER (PARTITION BY record_id ORDER BY processed_at) AS copy_number
    FROM faces
    WHERE
        dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
        AND store_id <> '_check'
)
SELECT
    dominant_emotion AS emotion,
    count(*) AS faces,
    round(100 * CAST(count(*) AS double) / sum(count(*)) OVER (), 2) AS share_pct
FROM faces_once
WHERE copy_number = 1
GROUP BY dominant_emotion
ORDER BY faces DESC, emotion
