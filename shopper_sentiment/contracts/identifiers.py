"""Id alphabets and the names derived from a deployment.

Ids end up in S3 keys, IAM policy variables, IoT thing names, Glue partition
values and CloudFormation names: one conservative alphabet each. The
patterns are full-match regular expressions over ASCII.

Copies: the edge agent (``shopper_edge.config.DEVICE_ID_PATTERN``,
``shopper_edge.deployment``) and the analyze function
(``shopper_analyze.settings``, ``shopper_analyze.image_keys``) carry their own.
"""

from __future__ import annotations

DEPLOYMENT_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9-]{0,39}"
STORE_ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
#: A device id is the device's AWS IoT thing name and its S3 prefix.
DEVICE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
#: Camera ids and zones.
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"

#: ``shopper-sentiment check`` uploads its sample still as this device, which
#: every deployment's function knows (shopper_sentiment/tiers/process.py adds it to the
#: registry) and no config may list (shopper_sentiment/config.py refuses it).
CHECK_DEVICE_ID = "shopper-sentiment-check"
CHECK_CAMERA_ID = "check"
CHECK_ZONE = "check"
#: The store of the check device's rows. Outside STORE_ID_PATTERN (a leading
#: underscore), so it is no configured store: its rows land in their own
#: partitions, never in a Parquet file with a real store's rows, and every
#: named query and QuickSight dataset leaves it out (``store_id <> '_check'``).
CHECK_STORE_ID = "_check"
#: The check store's days are UTC days.
CHECK_TIME_ZONE = "UTC"

STACK_NAME_PREFIX = "ShopperSentiment"
#: Suffix of the edge fleet's IoT role alias and IoT policy after the stack name.
EDGE_NAME_SUFFIX = "-edge"
#: The service role a QuickSight subscription creates in the account (the
#: config's ``quicksight_service_role`` names another).
QUICKSIGHT_SERVICE_ROLE_NAME = "aws-quicksight-service-role-v0"


def stack_name(deployment: str) -> str:
    """The pipeline stack of a deployment; also the prefix of its named resources."""
    return f"{STACK_NAME_PREFIX}-{deployment}"


def glue_database_name(name_prefix: str) -> str:
    """The Glue database of the curated tables (``name_prefix`` = the stack name); Glue wants lower case."""
    return name_prefix.lower().replace("-", "_")


def role_alias_name(name_prefix: str) -> str:
    """The IoT role alias devices exchange their certificate at (``name_prefix`` = the stack name)."""
    return f"{name_prefix}{EDGE_NAME_SUFFIX}"


def iot_policy_name(name_prefix: str) -> str:
    """The IoT policy attached to every device certificate of the deployment."""
    return f"{name_prefix}{EDGE_NAME_SUFFIX}"
