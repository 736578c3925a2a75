import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "supportflow": "supportflow",
    "schemas": "supportflow.schemas",
    "processors": "supportflow.processors",
    "streams": "supportflow.streams",
    "connectors": "supportflow.connectors",
    "evals": "supportflow.evals",
}


def test_packaging_every_package_folder_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, namespace in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((namespace, *rel)))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
