"""What the Lambda runtime gives the analyze handler, for running it off Lambda.

Shared by the local demo, the handler's tests and its benchmark: importing
``lambdas/analyze_image/app.py`` the way a cold start does, and the
LambdaContext attributes Powertools reads.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambdas" / "analyze_image"
#: Not "app": that would clash with the CDK app.py at the repository root.
MODULE_NAME = "analyze_image_app"


def load_handler() -> ModuleType:
    """Import the handler module afresh, as a cold start does (its settings read the current environment).

    The module's ``create_handler(settings, clients)`` builds a handler on any
    clients; ``aws_clients(settings)`` gives the deployed ones to start from.
    """
    if str(LAMBDA_DIR) not in sys.path:
        # The asset root is the import root in Lambda: shopper_analyze is top level.
        sys.path.append(str(LAMBDA_DIR))
    sys.modules.pop(MODULE_NAME, None)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, LAMBDA_DIR / "app.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {LAMBDA_DIR / 'app.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


class LambdaContextStub:
    """The LambdaContext attributes Powertools reads.

    ``remaining_ms`` is what the function has left; with ``ticking`` the
    budget runs down with the wall clock, as in Lambda.
    """

    function_name = "shopper-sentiment-analyze"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:shopper-sentiment-analyze"
    aws_request_id = "7d9f8c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
    log_group_name = "/aws/lambda/shopper-sentiment-analyze"
    log_stream_name = "2026/03/14/[$LATEST]0123456789abcdef"

    def __init__(self, remaining_ms: int = 60_000, *, ticking: bool = False) -> None:
        self.remaining_ms = remaining_ms
        self._started = time.monotonic() if ticking else None

    def get_remaining_time_in_millis(self) -> int:
        if self._started is None:
            return self.remaining_ms
        return max(0, self.remaining_ms - int((time.monotonic() - self._started) * 1000))
