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


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_packaging_data_files_come_only_from_package_data():
    """Off, so setuptools does not read data folders as packages missing from `packages` (and warn)."""
    assert _setuptools()["include-package-data"] is False


def _package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """Where setuptools finds ``package``: under the longest package-dir entry that prefixes it."""
    parts = package.split(".")
    for n in range(len(parts), 0, -1):
        if (base := ".".join(parts[:n])) in package_dir:
            return ROOT / package_dir[base] / Path(*parts[n:])
    return ROOT / Path(*parts)


def test_packaging_every_non_python_file_in_a_package_folder_is_package_data():
    config = _setuptools()
    covered = {
        path
        for package, patterns in config["package-data"].items()
        for pattern in patterns
        for path in _package_folder(package, config["package-dir"]).glob(pattern)
        if path.is_file()
    }
    data = {
        path
        for folder in FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }
    assert data - covered == set(), "not installed: add a glob to [tool.setuptools.package-data]"
