"""Check QuickSight request dicts against botocore's QuickSight service model, offline.

botocore's own ``ParamValidator`` checks member names, types, required
members and minimum lengths, but not enums, patterns, maximums or the
"exactly one member" rule of union-typed structures, which is the error
QuickSight most often returns for a hand-built Definition. ``validate_request``
adds those checks on top, walking the params alongside the model.

Test/dev only: botocore is not a synth dependency, so import this module
only from tests or tooling.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

#: Union-like structures whose model documentation does not say so.
_UNDOCUMENTED_UNIONS = frozenset({"DimensionField", "MeasureField", "FieldSortOptions"})
_UNION_DOC = re.compile(r"union type structure|variant type structure|only one of the attributes", re.IGNORECASE)


@functools.cache
def quicksight_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("quicksight")


def operation_model(operation: str) -> OperationModel:
    return quicksight_model().operation_model(operation)


def is_union(shape: StructureShape) -> bool:
    return shape.name in _UNDOCUMENTED_UNIONS or bool(_UNION_DOC.search(shape.documentation or ""))


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: leave that one to the service
        return None


def _walk(value: Any, shape: Shape, path: str, errors: list[str]) -> None:
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return  # ParamValidator reports the type error
        if is_union(shape) and len(value) != 1:
            errors.append(
                f"{path}: {shape.name} is a union: exactly one member must be set, got {sorted(value) or 'none'}"
            )
        for name, member in value.items():
            if name in shape.members:
                _walk(member, shape.members[name], f"{path}.{name}", errors)
    elif isinstance(shape, ListShape):
        if isinstance(value, list):
            maximum = shape.metadata.get("max")
            if maximum is not None and len(value) > maximum:
                errors.append(f"{path}: at most {maximum} items allowed, got {len(value)}")
            for index, item in enumerate(value):
                _walk(item, shape.member, f"{path}[{index}]", errors)
    elif isinstance(shape, MapShape):
        if isinstance(value, dict):
            for key, item in value.items():
                _walk(key, shape.key, f"{path} key {key!r}", errors)
                _walk(item, shape.value, f"{path}[{key!r}]", errors)
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.name} {shape.enum}")
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            errors.append(f"{path}: longer than {maximum} characters")
        pattern = shape.metadata.get("pattern")
        compiled = _pattern(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            errors.append(f"{path}: {value!r} does not match {shape.name} pattern {pattern}")
    elif shape.type_name in ("integer", "long", "double", "float") and isinstance(value, int | float):
        maximum = shape.metadata.get("max")
        if maximum is not None and value > maximum:
            errors.append(f"{path}: {value} is above the maximum {maximum}")


def _validate(value: Any, shape: Shape, path: str) -> list[str]:
    # botocore's own validator first, then what it skips (unions, enums, patterns, maximums).
    errors: list[str] = []
    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        errors.append(report.generate_report())
    _walk(value, shape, path, errors)
    return errors


def validate_request(operation: str, params: dict[str, Any]) -> list[str]:
    """Every problem with ``params`` as input to QuickSight ``operation``; [] when valid."""
    return _validate(params, operation_model(operation).input_shape, operation)


def validate_shape(shape_name: str, value: Any) -> list[str]:
    """Validate one value against a named shape (e.g. ``AnalysisDefinition``)."""
    return _validate(value, quicksight_model().shape_for(shape_name), shape_name)
