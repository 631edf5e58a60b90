"""The pack directory as the Pulumi CLI loads it for `pulumi preview --policy-pack policy`."""

from __future__ import annotations

import re

import yaml

from tooling.stack_files import ROOT

PACK = ROOT / "policy"


def test_pulumi_policy_yaml_names_the_pack_and_a_python_runtime() -> None:
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    main = (PACK / "__main__.py").read_text()
    assert re.search(rf'name="{re.escape(project["name"])}"', main), "PulumiPolicy.yaml and PolicyPack(name=...) differ"
    assert project["runtime"]["name"] == "python"


def test_pack_virtualenv_is_the_repo_environment() -> None:
    # The CLI's python analyzer shim runs <pack>/<virtualenv>/bin/python -m pulumi.policy.
    options = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    assert (PACK / options["virtualenv"]).resolve() == (ROOT / ".venv").resolve()
    assert (PACK / options["virtualenv"] / "bin" / "python").exists(), "run `make env`"
