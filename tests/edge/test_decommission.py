"""`shopper-edge decommission` against moto's IoT: what provision attached, it takes away."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shopper_edge.cli import main
from shopper_edge.config import WATCH_ROOT
from shopper_edge.decommission import execute, plan_decommission
from shopper_edge.deployment import edge_target
from shopper_edge.provision import provision_device

from .conftest import DEPLOYMENT, POLICY, REGION, THING, ClientWithFaults, client_error


def _provision(iot: Any, out_dir: Path) -> str:
    """A device as `shopper-edge provision` leaves it; returns its certificate's ARN."""
    result = provision_device(
        iot,
        thing_name=THING,
        target=edge_target(None, deployment=DEPLOYMENT, bucket="demo-source"),
        cameras={WATCH_ROOT: "entrance"},
        region=REGION,
        out_dir=out_dir,
    )
    return result.certificate_arn


def _decommission(*arguments: str) -> int:
    return main(["decommission", "--thing", THING, "--region", REGION, *arguments])


def _snapshot(iot: Any) -> dict[str, Any]:
    """What decommission may change: certificates and their status, the thing's and the policy's principals."""
    return {
        "certificates": sorted((c["certificateId"], c["status"]) for c in iot.list_certificates()["certificates"]),
        "thing": sorted(iot.list_thing_principals(thingName=THING)["principals"]),
        "policy": sorted(iot.list_targets_for_policy(policyName=POLICY)["targets"]),
    }


def test_decommission_after_provision_leaves_no_certificate_and_no_principal_on_thing_or_policy(
    iot: Any, tmp_path: Path, capsys: Any
) -> None:
    arns = [_provision(iot, tmp_path / "first"), _provision(iot, tmp_path / "reprovisioned")]

    assert _decommission("--deployment", DEPLOYMENT) == 0

    assert _snapshot(iot) == {"certificates": [], "thing": [], "policy": []}
    out = capsys.readouterr().out
    assert out.startswith(f"thing {THING} in {REGION}, deployment policy {POLICY}:\n")
    steps = f"detach policy {POLICY}; set INACTIVE; detach from thing {THING}; delete"
    for arn in arns:
        cert_id = arn.rsplit("/", 1)[1]
        assert f"  certificate {cert_id}: {steps}\n" in out  # the plan, printed before anything changed
        assert f"certificate {cert_id}:\n  detach policy {POLICY}: done\n  set INACTIVE: done\n" in out
    counts = "policies detached 2, set INACTIVE 2, detached from the thing 2, deleted 2"
    assert f"done: 2 certificate(s); {counts}" in out
    assert f"policy {POLICY}: 0 certificate(s) of {THING} attached" in out
    # What CloudFormation does next (the device removed from the config, cdk deploy) now succeeds.
    iot.delete_thing(thingName=THING)
    iot.delete_policy(policyName=POLICY)


def test_dry_run_prints_the_plan_and_changes_nothing(iot: Any, tmp_path: Path, capsys: Any) -> None:
    arn = _provision(iot, tmp_path)
    before = _snapshot(iot)

    assert _decommission("--stack", "ShopperSentiment-demo", "--dry-run") == 0

    assert _snapshot(iot) == before
    assert before["certificates"] == [(arn.rsplit("/", 1)[1], "ACTIVE")]
    out = capsys.readouterr().out
    assert f"detach policy {POLICY}; set INACTIVE; detach from thing {THING}; delete" in out
    assert (
        "would do: 1 certificate(s); policies detached 1, set INACTIVE 1, detached from the thing 1, deleted 1" in out
    )
    assert out.rstrip().endswith("dry run: nothing changed")


def test_a_second_run_finds_nothing_to_do(iot: Any, tmp_path: Path, capsys: Any) -> None:
    _provision(iot, tmp_path)
    assert _decommission() == 0
    capsys.readouterr()

    assert _decommission("--json") == 0

    report = json.loads(capsys.readouterr().out)
    assert report["certificates"] == [] and report["left"] == []
    assert report["counts"] == {"detach_policy": 0, "deactivate": 0, "detach_thing": 0, "delete": 0}


def test_a_certificate_another_thing_uses_is_detached_from_this_thing_only_and_named(
    iot: Any, tmp_path: Path, capsys: Any
) -> None:
    arn = _provision(iot, tmp_path)
    iot.create_thing(thingName="store-1-spare")
    iot.attach_thing_principal(thingName="store-1-spare", principal=arn)

    assert _decommission("--deployment", DEPLOYMENT, "--json") == 1

    report = json.loads(capsys.readouterr().out)
    (cert,) = report["certificates"]
    assert [(s["action"], s["status"]) for s in cert["steps"]] == [("detach_thing", "done")]
    assert report["left"] == [
        f"certificate {cert['id']}: also attached to thing(s) store-1-spare: detached from {THING} only, not deleted"
    ]
    # Not deleted, still active and still allowed to use the role alias: the other thing depends on it.
    assert _snapshot(iot) == {"certificates": [(cert["id"], "ACTIVE")], "thing": [], "policy": [arn]}
    assert iot.list_thing_principals(thingName="store-1-spare")["principals"] == [arn]


def test_a_failed_step_is_named_and_a_second_run_finishes_the_job(iot: Any, tmp_path: Path) -> None:
    arn = _provision(iot, tmp_path)

    def throttled(**_: Any) -> None:
        raise client_error(iot, "ThrottlingException", "Rate exceeded", "UpdateCertificate")

    refusing = ClientWithFaults(iot, update_certificate=throttled)
    first = execute(refusing, plan_decommission(refusing, thing_name=THING, region=REGION, policy=POLICY))

    (cert,) = first.certificates
    assert [(s.action, s.status) for s in cert.steps] == [
        ("detach_policy", "done"),
        ("deactivate", "failed"),
        ("detach_thing", "not run"),
        ("delete", "not run"),
    ]
    assert first.left() == [f"certificate {cert.id}: set INACTIVE failed: {cert.steps[1].error}"]
    assert "ThrottlingException" in first.left()[0]
    # Still attached to the thing, so the next run finds it (and no longer needs to detach the policy).
    assert iot.list_thing_principals(thingName=THING)["principals"] == [arn]

    second = execute(iot, plan_decommission(iot, thing_name=THING, region=REGION, policy=POLICY))
    assert [s.action for s in second.certificates[0].steps] == ["deactivate", "detach_thing", "delete"]
    assert second.left() == []
    assert _snapshot(iot) == {"certificates": [], "thing": [], "policy": []}


def test_a_delete_refused_while_the_detach_propagates_is_retried(iot: Any, tmp_path: Path) -> None:
    _provision(iot, tmp_path)
    refusals: list[dict[str, Any]] = []

    def still_attached_twice(**kwargs: Any) -> Any:
        if len(refusals) < 2:
            refusals.append(kwargs)
            raise client_error(iot, "DeleteConflictException", "Things must be detached", "DeleteCertificate")
        return iot.delete_certificate(**kwargs)

    pauses: list[float] = []
    slow = ClientWithFaults(iot, delete_certificate=still_attached_twice)
    report = execute(slow, plan_decommission(slow, thing_name=THING, region=REGION), sleep=pauses.append)

    assert report.left() == []
    assert pauses == [1.0, 2.0]
    assert iot.list_certificates()["certificates"] == []


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--thing", "store-9"], "IoT thing 'store-9' not found in eu-west-1"),
        (["--thing", "store 9"], "--thing 'store 9' is not a thing name"),
    ],
)
def test_an_unknown_thing_is_a_bad_argument(iot: Any, capsys: Any, arguments: list[str], says: str) -> None:
    assert main(["decommission", "--region", REGION, *arguments]) == 2
    assert says in capsys.readouterr().err


def test_deployment_and_stack_together_are_a_usage_error(iot: Any, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        _decommission("--deployment", DEPLOYMENT, "--stack", "ShopperSentiment-demo")
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
