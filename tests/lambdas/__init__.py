"""Tests of the analyze Lambda (lambdas/analyze_image).

Its modules are imported by their deployed name (the asset folder is the
Lambda's import root: ``shopper_analyze.x``), never as
``lambdas.analyze_image.shopper_analyze``. Appended, not prepended: the
folder's app.py must never shadow the CDK app.py at the repository root for
the rest of the test session.
"""

import sys

from local.lambda_runtime import LAMBDA_DIR

if str(LAMBDA_DIR) not in sys.path:
    sys.path.append(str(LAMBDA_DIR))
