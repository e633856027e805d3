"""Suite-wide safety: no test can reach a real AWS account.

Dummy credentials and a fixed region are set before any test module imports
boto3, and the shared config/credentials files are pointed at nothing, so a
developer's own profile is never picked up.
"""

import os

_SAFE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
}
os.environ.update(_SAFE_ENV)
os.environ.pop("AWS_PROFILE", None)
