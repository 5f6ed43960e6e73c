"""Static checks of the add-on that need no Odoo: XML well-formedness and the manifest.

    python3 tools/check_module.py xml        every .xml file parses
    python3 tools/check_module.py manifest   keys, version, files listed exist and every
                                             data file is listed
"""

import ast
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", "node_modules", "static/lib"}
REQUIRED_KEYS = ("name", "version", "license", "author", "depends", "data", "installable")
DATA_DIRS = ("data", "security", "views", "wizards", "reports")


def _files(pattern):
    for path in sorted(ROOT.rglob(pattern)):
        relative = path.relative_to(ROOT).as_posix()
        if not any(relative == skip or relative.startswith(skip + "/") for skip in SKIP_DIRS):
            yield path, relative


def check_xml():
    errors = []
    for path, relative in _files("*.xml"):
        try:
            ElementTree.parse(path)
        except ElementTree.ParseError as error:
            errors.append(f"{relative}: {error}")
    return errors


def check_manifest():
    manifest = ast.literal_eval((ROOT / "__manifest__.py").read_text())
    errors = [f"__manifest__.py: missing key {key!r}" for key in REQUIRED_KEYS if key not in manifest]
    if not re.fullmatch(r"18\.0\.\d+\.\d+\.\d+", manifest.get("version", "")):
        errors.append("__manifest__.py: version must look like 18.0.x.y.z")
    if manifest.get("license") not in ("LGPL-3", "AGPL-3", "OPL-1", "GPL-3"):
        errors.append("__manifest__.py: unexpected license")
    listed = list(manifest.get("data", [])) + list(manifest.get("demo", []))
    errors += [f"__manifest__.py: listed file {name} does not exist" for name in listed if not (ROOT / name).is_file()]
    errors += [f"__manifest__.py: {name} is listed twice" for name in set(listed) if listed.count(name) > 1]
    for directory in (*DATA_DIRS, "demo"):
        for path in sorted((ROOT / directory).glob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if path.suffix in (".xml", ".csv") and relative not in listed:
                errors.append(f"{relative} is not listed in __manifest__.py")
    return errors


def main(argv):
    checks = {"xml": check_xml, "manifest": check_manifest}
    if len(argv) != 2 or argv[1] not in checks:
        print(__doc__)
        return 2
    errors = checks[argv[1]]()
    for error in errors:
        print(error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
