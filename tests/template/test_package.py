"""scripts/package.py: the functions' one code bundle, and the agent hosts' package."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import ROOT, of_type


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


package = _load_script()

# Only the agent, the embedded stack or development use these: the Lambda code never imports
# them (they are not in pyproject's main dependencies).
_NOT_IN_LAMBDA = (
    "agent",
    "tmux_builder.local",
    "tmux_builder.offline_model",
    "moto",
    "libtmux",
    "playwright",
    "rich",
    "werkzeug",
)

_IMPORT_CHECK = """
import importlib.abc, json, sys
blocked = {blocked!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError("not in the Lambda bundle: " + name)
        return None

sys.meta_path.insert(0, Block())
sys.path.insert(0, {bundle!r})
import app
import control_plane, tmux_builder
from control_plane import iam_identity
policy = iam_identity.user_policy("0123456789abcdef0123456789abcdef", "123456789012", "aws")
print(json.dumps({{
    "handlers": {{name: callable(getattr(app, name)) for name in app.__all__}},
    "files": [app.__file__, control_plane.__file__, tmux_builder.__file__],
    "policy_statements": len(policy["Statement"]),
}}))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package.build_lambda(tmp_path_factory.mktemp("lambda") / "bundle")


def test_the_bundle_holds_the_code_iam_and_the_main_dependencies(bundle: Path) -> None:
    assert (bundle / "control_plane" / "app.py").is_file()
    assert (bundle / "tmux_builder" / "settings.py").is_file()
    assert not (bundle / "tmux_builder" / "local").exists()
    assert not (bundle / "tmux_builder" / "offline_model").exists()
    assert not list(bundle.rglob("__pycache__"))
    shipped = sorted(path.name for path in (bundle / "iam").iterdir())
    assert shipped == sorted(path.name for path in (ROOT / "iam").glob("*.json"))
    with (ROOT / "pyproject.toml").open("rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    lines = (bundle / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == dependencies


def test_app_py_exports_every_handler_of_the_template(
    bundle: Path, resources: dict[str, Any]
) -> None:
    handlers = {
        function["Properties"]["Handler"].removeprefix("app.")
        for function in of_type(resources, "AWS::Serverless::Function").values()
    }
    tree = ast.parse((bundle / "app.py").read_text())
    (imported,) = [node for node in tree.body if isinstance(node, ast.ImportFrom)]
    assert imported.module == "control_plane.app"
    assert {alias.name for alias in imported.names} == handlers


def test_the_bundle_imports_with_nothing_but_itself_and_the_main_dependencies(
    bundle: Path, tmp_path: Path
) -> None:
    code = _IMPORT_CHECK.format(blocked=_NOT_IN_LAMBDA, bundle=str(bundle))
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(report["handlers"].values()), report["handlers"]
    for path in report["files"]:
        assert Path(path).is_relative_to(bundle), f"{path} was not imported from the bundle"
    assert report["policy_statements"] > 0  # iam/ is read from beside control_plane/


def test_the_bundle_is_rebuilt_from_scratch(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    (out / "stale").mkdir(parents=True)
    package.build_lambda(out)
    assert not (out / "stale").exists()
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == sorted(
        p.relative_to(bundle) for p in bundle.rglob("*")
    )


def test_the_agent_package_is_reproducible_and_complete(tmp_path: Path) -> None:
    first = package.build_agent(tmp_path / "a")
    second = package.build_agent(tmp_path / "b")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as archive:
        names = archive.getnames()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == set(package.AGENT_PATHS)
    assert "agent/main.py" in names
    assert "package-lock.json" in names  # the pinned Claude Code CLI
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in names if name.endswith("settings.local.json")]


def test_the_script_prints_what_it_wrote(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), "lambda", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path)
    assert (tmp_path / "app.py").is_file()
