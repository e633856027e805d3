"""The analyze function's modules by their deployed names (the asset folder is their import root)."""

from __future__ import annotations

import sys
from pathlib import Path

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "analyze_image"

# Appended, not prepended: the folder's app.py must never shadow the CDK
# app.py at the repository root.
if str(LAMBDA_DIR) not in sys.path:
    sys.path.append(str(LAMBDA_DIR))
