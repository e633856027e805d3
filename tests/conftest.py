"""Suite-wide safety: no test can reach a real AWS account.

Dummy credentials and a fixed region are set before any test module imports
boto3, and the shared config/credentials files are pointed at nothing, so a
developer's own profile is never picked up. Also: the demo app synthesized once per
session (``demo_config``, ``demo_assembly``, ``demo_templates``).
"""

import os

import pytest

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
    # jsii 1.142 calls Node 20 end-of-life; the banner is harmless and would bury the output.
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
os.environ.update(_SAFE_ENV)
os.environ.pop("AWS_PROFILE", None)


# Synthesis is slow to start (the jsii runtime): the demo app is synthesized
# once per session, on first use, and shared by every folder's tests. The CDK
# is imported inside the fixtures so suites that never synthesize never pay.
@pytest.fixture(scope="session")
def demo_config():
    from shopper_sentiment.config import load_config
    from tests.cdk_apps import PROJECT_ROOT

    return load_config(PROJECT_ROOT / "deployments.toml")


@pytest.fixture(scope="session")
def demo_assembly(tmp_path_factory: pytest.TempPathFactory, demo_config):
    from app import build_app
    from tests.cdk_apps import new_app

    return build_app(new_app(tmp_path_factory.mktemp("cdk.out")), demo_config).synth()


@pytest.fixture(scope="session")
def demo_templates(demo_assembly) -> dict[str, dict]:
    return {stack.stack_name: stack.template for stack in demo_assembly.stacks}
