"""The outputs of a deployment's pipeline stack, by key.

Operators and their tools read a deployment's resources from the stack's
outputs (CloudFormation ``DescribeStacks``), never from names a user guesses.
``shopper-edge provision --stack`` reads the source bucket and the role alias
here; the edge agent carries its own copy of the keys it reads
(tests/contracts ties them).
"""

from __future__ import annotations

SOURCE_BUCKET = "SourceBucketName"
CURATED_BUCKET = "CuratedBucketName"
#: Read by ``shopper-sentiment erase`` (with the source and curated buckets).
ARCHIVE_BUCKET = "ArchiveBucketName"
IDEMPOTENCY_TABLE = "IdempotencyTableName"
ATHENA_WORKGROUP = "AthenaWorkGroupName"
ATHENA_RESULTS_BUCKET = "AthenaResultsBucketName"
EDGE_ROLE_ALIAS = "EdgeRoleAliasName"
#: Read by ``shopper-sentiment redrive``: where the dead-letter queue's messages go back to.
INCOMING_QUEUE_URL = "IncomingQueueUrl"
DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
#: The SNS topic every alarm notifies: subscribe to it (the stack's own or the configured one).
ALARM_TOPIC_ARN = "AlarmTopicArn"
#: The AWS CLI command that prints the account's IoT credentials-provider endpoint
#: (one per account and region; CloudFormation has no attribute for it).
CREDENTIALS_ENDPOINT_COMMAND = "CredentialsEndpointCommand"

ALL = (
    SOURCE_BUCKET,
    CURATED_BUCKET,
    ARCHIVE_BUCKET,
    IDEMPOTENCY_TABLE,
    ATHENA_WORKGROUP,
    ATHENA_RESULTS_BUCKET,
    EDGE_ROLE_ALIAS,
    CREDENTIALS_ENDPOINT_COMMAND,
    INCOMING_QUEUE_URL,
    DEAD_LETTER_QUEUE_URL,
    ALARM_TOPIC_ARN,
)
