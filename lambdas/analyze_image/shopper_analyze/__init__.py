"""Pure logic of the analyze Lambda (no AWS client is created in this package).

``app.py`` next to this package is the Lambda entry point: it wires the boto3
clients and Powertools utilities and calls the functions here. The package
has a distinctive name because the asset folder is the Lambda's import root:
a generic name (``settings``, ``records``) would shadow other modules there
and in the test session.
"""
