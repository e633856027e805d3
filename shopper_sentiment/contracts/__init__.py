"""The contracts every part of Shopper Sentiment agrees on, in one place.

Nothing here imports the CDK, boto3 or the Lambda runtime: the stacks, the
dashboards, the local pipeline, the benchmarks and the tests all read these
modules, and each is a plain description of one agreement:

- ``shopper_sentiment.contracts.schema``: the face record (columns, partitions, types) that the
  Glue table, Firehose's Parquet conversion, Athena, QuickSight and the local
  Parquet writer share;
- ``shopper_sentiment.contracts.layout``: where objects live — the ``incoming/`` object key the
  edge agent writes, the archive's quarantine prefix, the curated bucket's
  data and error prefixes and its partition folders;
- ``shopper_sentiment.contracts.identifiers``: the id alphabets (deployment, store, device,
  labels) and the names derived from a deployment (stack, edge role alias,
  IoT policy);
- ``shopper_sentiment.contracts.analyze_function``: what the CDK stack hands the analyze
  function — its environment variable names, the device registry file and
  its fields, the default face floors;
- ``shopper_sentiment.contracts.catalogue``: the named queries and the visuals drawn from
  their answers, shared by the Athena tier, the QuickSight definition and the
  local report.

The analyze Lambda and the edge agent ship without this repository, so they
carry copies of what they need; ``tests/contracts`` fails as soon as a copy
drifts from the contract here.
"""
