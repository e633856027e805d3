"""The same requests as ``AWS::QuickSight::*`` CloudFormation resource properties.

CloudFormation's QuickSight resources take the API members under the same
names, with few exceptions; cfn-lint (tests/dashboards) finds any new one.
Known exception: ``AWS::QuickSight::RefreshSchedule`` spells the schedule's
time zone ``TimeZone`` where the API says ``Timezone``.

Pass the result as raw properties (``CfnResource(type=..., properties=...)``
or ``add_property_override`` on the L1): the L1 classes' Python structs
expect snake_case keyword objects, not these PascalCase dicts.
"""

from __future__ import annotations

import copy
from typing import Any

RESOURCE_TYPES: dict[str, str] = {
    "CreateDataSource": "AWS::QuickSight::DataSource",
    "CreateDataSet": "AWS::QuickSight::DataSet",
    "CreateRefreshSchedule": "AWS::QuickSight::RefreshSchedule",
    "CreateAnalysis": "AWS::QuickSight::Analysis",
    "CreateDashboard": "AWS::QuickSight::Dashboard",
}


def cloudformation_properties(operation: str, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(resource type, Properties) for the API ``request`` of ``operation``."""
    try:
        resource_type = RESOURCE_TYPES[operation]
    except KeyError:
        raise ValueError(f"no CloudFormation resource for {operation!r}; one of {sorted(RESOURCE_TYPES)}") from None
    properties = copy.deepcopy(request)
    if operation == "CreateRefreshSchedule":
        frequency = properties["Schedule"]["ScheduleFrequency"]
        if "Timezone" in frequency:
            frequency["TimeZone"] = frequency.pop("Timezone")
    return resource_type, properties
