"""The Lambda functions' source, one folder per function; installed as ``shopper_sentiment.functions``.

Each folder is a function's code asset as it is (``app.py`` with its
handler, its own package, the pinned ``requirements.txt`` of its layer);
nothing here is imported by the library: the constructs find the folders
through ``shopper_sentiment.building.package_files``.
"""
