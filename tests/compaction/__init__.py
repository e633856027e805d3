"""Tests of the compaction function (lambdas/compact) against moto's S3.

The function's asset root is its import root in Lambda (``shopper_compact`` is
top level), so its folder is put on the path here. Appended, not prepended:
its ``app.py`` must not shadow the CDK app at the repository root.
"""

import sys
from pathlib import Path

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "compact"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.append(str(LAMBDA_DIR))
