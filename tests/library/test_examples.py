"""The library as an app outside this repository gets it, end to end.

The wheel is built from the checkout, installed with the pinned CDK into a
fresh virtual environment outside the repository, and each app under
``examples/`` is copied out of the checkout and synthesized there with the
pinned CDK CLI (cdk-nag's gate included), then linted. Nothing of the
checkout is importable while they synthesize: what they build comes from
the installed package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CDK = REPO / "node_modules" / ".bin" / "cdk"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
EXAMPLE_NAMES = ("existing_bucket", "single_store")
#: What the wheel must carry for a construct to find at synth, beside the code.
SHIPPED = (
    "shopper_sentiment/functions/analyze_image/app.py",
    "shopper_sentiment/functions/analyze_image/requirements.txt",
    "shopper_sentiment/functions/compact/app.py",
    "shopper_sentiment/functions/compact/requirements.txt",
    "shopper_sentiment/functions/silence_check/app.py",
    "shopper_sentiment/dashboards/quicksight/definition.py",
    "shopper_sentiment/contracts/schema.py",
    "shopper_sentiment/py.typed",
)
#: Variables that would put the checkout (or another environment) on the examples' sys.path.
NOT_PASSED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV")
#: No AWS credentials at all: the CLI then asks no AWS endpoint for the account (conftest's are dummies).
NO_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
)

pytestmark = pytest.mark.slow


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED + NO_CREDENTIALS}
    # The CLI's telemetry and version check are network calls a synth does not need.
    env |= {"CDK_DISABLE_CLI_TELEMETRY": "true", "CDK_DISABLE_VERSION_CHECK": "true"}
    env |= {"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "PYTHONNOUSERSITE": "1"}
    return env | extra


def run(command: Sequence[str | Path], *, cwd: Path, **env: str) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def outside_repo(path: Path) -> Path:
    assert not path.resolve().is_relative_to(REPO), f"{path} is inside the checkout"
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = outside_repo(tmp_path_factory.mktemp("wheel-build"))
    # setuptools builds inside the source tree (build/, *.egg-info) unless told
    # otherwise: the checkout stays as it is, and no stale build/lib gets in.
    config = work / "extra.cfg"
    config.write_text(f"[build]\nbuild_base = {work / 'build'}\n[egg_info]\negg_base = {work}\n", encoding="utf-8")
    dist = work / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, REPO],
        cwd=work,
        DIST_EXTRA_CONFIG=str(config),
    )
    (built,) = dist.glob("shopper_sentiment-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@dataclass(frozen=True)
class Venv:
    root: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Venv:
    """A fresh venv with the wheel and the repository's pins (and the examples', which must agree)."""
    root = outside_repo(tmp_path_factory.mktemp("venv")) / "venv"
    run([sys.executable, "-m", "venv", root], cwd=root.parent)
    requirements = [REPO / "requirements.txt", *(EXAMPLES / name / "requirements.txt" for name in EXAMPLE_NAMES)]
    options = [option for path in requirements for option in ("-r", path)]
    run([root / "bin" / "python", "-m", "pip", "install", "--quiet", *options, wheel], cwd=root.parent)
    site = run([root / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root)
    return Venv(root, Path(site.strip()))


@pytest.fixture(scope="module")
def installed(venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the venv's interpreter imports as the library, run where the examples synthesize."""
    script = textwrap.dedent(
        """
        import importlib.metadata, json, sys
        import shopper_sentiment
        from shopper_sentiment.building.package_files import packaged_folder
        dist = importlib.metadata.distribution("shopper-sentiment")
        print(json.dumps({
            "file": shopper_sentiment.__file__,
            "version": shopper_sentiment.__version__,
            "metadata_version": dist.version,
            "direct_url": json.loads(dist.read_text("direct_url.json")),
            "functions": str(packaged_folder("shopper_sentiment", "functions")),
            "queries": str(packaged_folder("shopper_sentiment.dashboards", "queries")),
            "sys_path": sys.path,
        }))
        """
    )
    return json.loads(run([venv.python, "-c", script], cwd=tmp_path_factory.mktemp("elsewhere")))


@dataclass(frozen=True)
class Synth:
    example: str
    out: Path
    log: str

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.out / "manifest.json").read_text(encoding="utf-8"))

    def stacks(self) -> dict[str, dict[str, Any]]:
        """Stack name → its manifest artifact."""
        artifacts = self.manifest["artifacts"].items()
        return {name: a for name, a in artifacts if a["type"] == "aws:cloudformation:stack"}

    def template(self, stack: str) -> dict[str, Any]:
        path = self.out / self.stacks()[stack]["properties"]["templateFile"]
        return json.loads(path.read_text(encoding="utf-8"))

    def templates(self) -> dict[str, dict[str, Any]]:
        return {name: self.template(name) for name in self.stacks()}


@pytest.fixture(scope="module")
def synths(tmp_path_factory: pytest.TempPathFactory, venv: Venv) -> dict[str, Synth]:
    """Every example copied out of the checkout and synthesized there with the pinned CLI, all at once."""
    if not CDK.exists():
        pytest.fail("the pinned CDK CLI is missing: run `make test`, which installs it with npm ci")
    running = {}
    for name in EXAMPLE_NAMES:
        app_dir = outside_repo(tmp_path_factory.mktemp(name)) / name
        shutil.copytree(EXAMPLES / name, app_dir, ignore=shutil.ignore_patterns("cdk.out", ".venv", "__pycache__"))
        out = app_dir / "cdk.out"
        command = [CDK, "synth", "--quiet", "--no-notices", "--app", f"{venv.python} app.py", "-o", out]
        log = app_dir.parent / "synth.log"
        # PYTHONVERBOSE: the interpreter names every module file it imports (on stderr, which the CLI passes on).
        with log.open("w", encoding="utf-8") as output:
            process = subprocess.Popen(
                [str(c) for c in command],
                cwd=app_dir,
                env=clean_env(PYTHONVERBOSE="1"),
                stdout=output,
                stderr=output,
                start_new_session=True,  # its own process group: the CLI and the app it starts
            )
        running[name] = (out, log, process)
    try:
        for _, _, process in running.values():
            process.wait(timeout=900)
    finally:
        for _, _, process in running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    synths = {}
    for name, (out, log, process) in running.items():
        said = log.read_text(encoding="utf-8")
        if process.returncode != 0:
            lines = [line for line in said.splitlines() if not line.startswith(("#", "import "))]
            pytest.fail(f"cdk synth of examples/{name} failed:\n" + "\n".join(lines)[-20000:])
        synths[name] = Synth(name, out, said)
    return synths


# The wheel


@pytest.mark.parametrize("name", SHIPPED)
def test_wheel_carries_what_the_constructs_read_at_synth(wheel_files: list[str], name: str):
    assert name in wheel_files


def test_wheel_carries_every_function_module_and_every_named_query(wheel_files: list[str]):
    expected = {
        f"shopper_sentiment/{path.relative_to(REPO).as_posix().replace('lambdas/', 'functions/', 1)}"
        for path in (REPO / "lambdas").glob("*/**/*.py")
        if "__pycache__" not in path.parts
    }
    expected |= {
        f"shopper_sentiment/dashboards/queries/{path.name}" for path in (REPO / "dashboards/queries").glob("*.sql")
    }
    assert any(name.endswith(".sql") for name in expected)
    assert expected <= set(wheel_files)


def test_wheel_holds_the_package_alone(wheel: Path, wheel_files: list[str]):
    from shopper_sentiment.version import __version__

    # Not tests/, stacks/, local/, bench/, edge/, examples/ nor the repository's app.py.
    assert {name.split("/")[0] for name in wheel_files} == {
        "shopper_sentiment",
        f"shopper_sentiment-{__version__}.dist-info",
    }
    assert not [name for name in wheel_files if "__pycache__" in name or name.endswith(".pyc")]
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"shopper_sentiment-{__version__}.dist-info/METADATA").decode()
    assert re.search(r"^Name: shopper-sentiment$", metadata, re.M)
    assert re.search(rf"^Version: {re.escape(__version__)}$", metadata, re.M)


# The installed package


def test_the_venv_imports_the_installed_wheel_not_the_checkout(installed: dict[str, Any], venv: Venv, wheel: Path):
    assert Path(installed["file"]).is_relative_to(venv.site_packages)
    assert Path(installed["functions"]).is_relative_to(venv.site_packages)
    assert Path(installed["queries"]).is_relative_to(venv.site_packages)
    assert installed["version"] == installed["metadata_version"]
    # Installed from the wheel's file, not editable from a folder.
    assert installed["direct_url"]["url"].endswith(wheel.name)
    assert "dir_info" not in installed["direct_url"]
    assert not [p for p in installed["sys_path"] if p and Path(p).resolve().is_relative_to(REPO)]


# The examples


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_passes_the_cdk_nag_gate(synths: dict[str, Synth], example: str):
    report = json.loads((synths[example].out / "validation-report.json").read_text(encoding="utf-8"))
    assert [v["ruleName"] for p in report["pluginReports"] for v in p["violations"]] == []
    assert [p["conclusion"] for p in report["pluginReports"]] == ["success"]


def imported_files(verbose_stderr: str) -> Iterator[Path]:
    """Every module file the interpreter said it imported (``python -v``'s ``# ...`` lines)."""
    for line in verbose_stderr.splitlines():
        if line.startswith("# "):
            yield from (Path(path) for path in re.findall(r"(/[^\s']+\.pyc?)\b", line))


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_imports_the_library_from_the_venv_only(synths: dict[str, Synth], venv: Venv, example: str):
    files = list(imported_files(synths[example].log))
    library = [path for path in files if "shopper_sentiment" in path.parts]
    assert any(path.match("shopper_sentiment/tiers/process.py") for path in library)
    assert [path for path in library if not path.is_relative_to(venv.site_packages)] == []
    assert [path for path in files if path.resolve().is_relative_to(REPO)] == []


def lambda_assets(synth: Synth) -> Iterator[tuple[Path, list[Path]]]:
    """(code asset folder, its layers' asset folders) of every project function (handler ``app.handler``)."""
    for template in synth.templates().values():
        resources = template["Resources"]

        def asset(key: str) -> Path:
            return synth.out / f"asset.{key.removesuffix('.zip')}"

        for resource in resources.values():
            props = resource["Properties"]
            if resource["Type"] == "AWS::Lambda::Function" and props.get("Handler") == "app.handler":
                layers = [resources[layer["Ref"]]["Properties"]["Content"]["S3Key"] for layer in props["Layers"]]
                yield asset(props["Code"]["S3Key"]), [asset(key) for key in layers]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def pins(requirements: str) -> set[str]:
    """``name-version`` of every ``name==version`` line, as a dist-info folder names them."""
    found = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", requirements, re.M)
    return {f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}" for name, version in found}


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_function_code_is_the_installed_package_s(
    synths: dict[str, Synth], installed: dict[str, Any], example: str
):
    functions = Path(installed["functions"])
    sources = {folder.name: tree(folder) for folder in functions.iterdir() if (folder / "app.py").is_file()}
    assets = list(lambda_assets(synths[example]))
    assert len(assets) == 1  # the analyze function
    for code, layers in assets:
        shipped = tree(code)
        # The handler folder, as installed, without its requirements (they are the layer), plus the
        # one file the deployment writes beside it (the device registry).
        (name,) = [n for n, files in sources.items() if files["app.py"] == shipped.get("app.py")]
        source = {path: data for path, data in sources[name].items() if path != "requirements.txt"}
        assert {path: shipped[path] for path in source if path in shipped} == source
        assert len(set(shipped) - set(source)) == 1, sorted(set(shipped) - set(source))
        # Its layer: every pin of the installed requirements.txt, built for the runtime.
        (layer,) = layers
        installed_dists = {
            path.name.removesuffix(".dist-info").lower() for path in (layer / "python").glob("*.dist-info")
        }
        assert pins(sources[name]["requirements.txt"].decode()) <= installed_dists


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_templates_pass_cfn_lint(synths: dict[str, Synth], example: str):
    from tests.stacks.test_pipeline_stack import LINT_REGIONS  # the app's own lint options

    synth = synths[example]
    own_regions = {a["environment"].rsplit("/", 1)[1] for a in synth.stacks().values()} - {"unknown-region"}
    templates = [synth.out / a["properties"]["templateFile"] for a in synth.stacks().values()]
    result = subprocess.run(
        [CFN_LINT, "--format", "parseable", "--regions", *LINT_REGIONS, *sorted(own_regions), "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


def by_path(template: Mapping[str, Any], resource_type: str) -> dict[str, str]:
    """Construct path (without the stack and ``/Resource``) → logical id, of every resource of the type."""
    return {
        resource["Metadata"]["aws:cdk:path"].split("/", 1)[1].removesuffix("/Resource"): logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def test_existing_bucket_example_has_the_user_s_buckets_and_the_tiers_own_only(synths: dict[str, Synth]):
    (template,) = synths["existing_bucket"].templates().values()
    buckets = by_path(template, "AWS::S3::Bucket")
    users = {"Uploads", "AccessLogs"}
    tiers = {"Ingest/Archive", "Analytics/Curated", "Analytics/QueryResults"}
    assert set(buckets) == users | tiers  # no source (nor log) bucket of IngestTier's


def test_existing_bucket_example_notifies_the_queue_from_the_user_s_bucket(synths: dict[str, Synth]):
    (template,) = synths["existing_bucket"].templates().values()
    resources = template["Resources"]
    buckets = by_path(template, "AWS::S3::Bucket")
    (notifications,) = by_path(template, "Custom::S3BucketNotifications").values()
    props = resources[notifications]["Properties"]
    assert props["BucketName"] == {"Ref": buckets["Uploads"]}
    (queue_config,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert queue_config["QueueArn"] == {"Fn::GetAtt": [by_path(template, "AWS::SQS::Queue")["Ingest/Incoming"], "Arn"]}
    assert queue_config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "incoming/"}]
    # The user's bucket keeps its settings and gets the tier's lifetime for incoming/.
    uploads = resources[buckets["Uploads"]]["Properties"]
    assert uploads["VersioningConfiguration"] == {"Status": "Enabled"}
    assert uploads["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": buckets["AccessLogs"]}
    assert [rule.get("Prefix") for rule in uploads["LifecycleConfiguration"]["Rules"]] == ["incoming/"]
    # The devices write into it, and the function reads it.
    grants = by_path(template, "AWS::IAM::Role") | by_path(template, "AWS::IAM::Policy")
    for path in ("Ingest/EdgeRole", "Process/LeastPrivilege"):
        assert buckets["Uploads"] in json.dumps(resources[grants[path]]["Properties"]), path


def test_single_store_example_is_two_stacks_in_one_environment(synths: dict[str, Synth]):
    stacks = synths["single_store"].stacks()
    assert set(stacks) == {"ShopperSentiment-berlin-Analytics", "ShopperSentiment-berlin"}
    assert {a["environment"] for a in stacks.values()} == {"aws://111111111111/eu-central-1"}
    # CDK deploys the analytics stack first: the store stack imports from it.
    assert "ShopperSentiment-berlin-Analytics" in stacks["ShopperSentiment-berlin"]["dependencies"]


def test_single_store_example_writes_into_the_analytics_stack_s_bucket_and_tables(synths: dict[str, Synth]):
    synth = synths["single_store"]
    analytics = synth.template("ShopperSentiment-berlin-Analytics")
    store = synth.template("ShopperSentiment-berlin")
    exported = {output["Export"]["Name"]: output["Value"] for output in analytics.get("Outputs", {}).values()}
    buckets, tables = by_path(analytics, "AWS::S3::Bucket"), by_path(analytics, "AWS::Glue::Table")
    curated = {"Fn::GetAtt": [buckets["Analytics/Curated"], "Arn"]}

    def imported(value: Any) -> Any:
        assert set(value) == {"Fn::ImportValue"}, value
        return exported[value["Fn::ImportValue"]]

    streams = [
        store["Resources"][lid]["Properties"] for lid in by_path(store, "AWS::KinesisFirehose::DeliveryStream").values()
    ]
    destinations = [s["ExtendedS3DestinationConfiguration"] for s in streams]
    assert [imported(d["BucketARN"]) for d in destinations] == [curated, curated]
    schema_tables = [d["DataFormatConversionConfiguration"]["SchemaConfiguration"]["TableName"] for d in destinations]
    assert sorted(imported(t)["Ref"] for t in schema_tables) == sorted(tables.values())
    # Each stack holds its own tiers only.
    assert {r["Type"] for r in analytics["Resources"].values()}.isdisjoint({"AWS::Lambda::Function", "AWS::IoT::Thing"})
    assert {r["Type"] for r in store["Resources"].values()}.isdisjoint({"AWS::Glue::Table", "AWS::Athena::WorkGroup"})
