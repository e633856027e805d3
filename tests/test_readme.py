"""The README's library snippets are whole apps: each synthesizes what it says, from the installed library."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Use the constructs in your own CDK app"


def library_snippets() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


#: What each snippet's stack must hold (resource type → at least this many).
EXPECTED = {
    "Uploads": {"AWS::S3::Bucket": 3, "AWS::SQS::Queue": 2, "AWS::IoT::RoleAlias": 1, "AWS::IoT::Thing": 2},
    "Lake": {"AWS::Glue::Table": 2, "AWS::Athena::WorkGroup": 1, "AWS::Athena::NamedQuery": 1},
    "Analyze": {"AWS::Lambda::Function": 1, "AWS::KinesisFirehose::DeliveryStream": 2, "AWS::Glue::Table": 2},
    "Compaction": {"AWS::Lambda::Function": 1, "AWS::Events::Rule": 1},
}


def test_the_readme_shows_each_tier_alone():
    assert len(library_snippets()) == len(EXPECTED)


@pytest.mark.parametrize("snippet", library_snippets(), ids=list(EXPECTED))
def test_a_readme_snippet_synthesizes_its_stack(snippet, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))  # where cdk.App() writes its assembly
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)
    (stack,) = namespace["app"].synth().stacks
    assert stack.stack_name in EXPECTED
    resources = [resource["Type"] for resource in stack.template["Resources"].values()]
    for kind, least in EXPECTED[stack.stack_name].items():
        assert resources.count(kind) >= least, (stack.stack_name, kind)
    if stack.stack_name == "Analyze":
        assert "give the queue a visibility timeout of 30 minutes" in capsys.readouterr().out
