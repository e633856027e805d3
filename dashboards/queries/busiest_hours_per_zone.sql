-- Which are the three busiest hours of the day (UTC) in each store zone over the last 30 days?
-- Busy = most faces. Ties go to the earlier hour, so every zone lists at most
-- three hours, ranked 1 to 3.
WITH hourly AS (
    SELECT
        store_id,
        zone,
        hour(captured_at) AS capture_hour,
        count(*) AS faces
    FROM faces
    WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
    GROUP BY store_id, zone, hour(captured_at)
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
