-- How many visitors (faces) did each store's cameras see per day over the last 30 days (the bar of faces per day)?
-- A face is one detection in one image: a shopper who passes two cameras, or
-- stays in view for two captures, counts twice. Read it as traffic, not as
-- unique people; the pipeline keeps no identity. The day is dt, the UTC
-- capture date, which costs no column read.
SELECT
    dt AS capture_day,
    store_id,
    count(*) AS faces,
    count(DISTINCT image_key) AS images
FROM faces
WHERE dt >= date_format(current_date - INTERVAL '29' DAY, '%Y-%m-%d')
GROUP BY dt, store_id
ORDER BY capture_day, store_id
