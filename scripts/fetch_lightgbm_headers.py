#!/usr/bin/env python3
"""Puts LightGBM's C API headers beside a venv's lightgbm wheel.

LightGBMPredictor (src/lightgbm/) calls the C library inside the PyPI
`lightgbm` wheel (lightgbm/lib/lib_lightgbm.so), which ships no headers. The
headers of the same version come from that version's source distribution on
PyPI: this script finds it through PyPI's simple index, checks its sha256
against the pin below, and extracts include/LightGBM/{c_api,export,arrow}.h
into VENV/include/lightgbm-VERSION/LightGBM/. It prints that include folder.

Idempotent: a folder that already holds the headers is left alone, so the
network is touched once per version. Usage:

    fetch_lightgbm_headers.py VENV

Only PyPI is contacted. A lightgbm version without a pin here is refused: add
its sdist's sha256 (from https://pypi.org/simple/lightgbm/) to SDIST_SHA256.
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request

# sha256 of lightgbm-VERSION.tar.gz as PyPI lists it.
SDIST_SHA256 = {
    "4.7.0": "f8e20f682c9aabd000bcf4a7ed8aa6f473c1adfecccae34ec24e823d156f4af0",
}
HEADERS = ("c_api.h", "export.h", "arrow.h")
SIMPLE_INDEX = "https://pypi.org/simple/lightgbm/"


def venv_lightgbm_version(venv: str) -> str:
    python = os.path.join(venv, "bin", "python")
    return subprocess.run(
        [python, "-c", "import lightgbm; print(lightgbm.__version__)"],
        check=True, capture_output=True, text=True).stdout.strip()


def sdist_url(version: str) -> str:
    request = urllib.request.Request(
        SIMPLE_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        index = json.load(reply)
    wanted = f"lightgbm-{version}.tar.gz"
    for entry in index.get("files", []):
        if entry.get("filename") == wanted:
            return entry["url"]
    sys.exit(f"fetch_lightgbm_headers: PyPI lists no {wanted}")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: fetch_lightgbm_headers.py VENV")
    venv = sys.argv[1]
    version = venv_lightgbm_version(venv)
    include_dir = os.path.join(venv, "include", f"lightgbm-{version}")
    header_dir = os.path.join(include_dir, "LightGBM")
    if all(os.path.isfile(os.path.join(header_dir, name)) for name in HEADERS):
        print(include_dir)
        return
    if version not in SDIST_SHA256:
        sys.exit(f"fetch_lightgbm_headers: no sha256 pinned for lightgbm {version}'s source "
                 f"distribution; add it to SDIST_SHA256 in {__file__}")
    url = sdist_url(version)
    print(f"[inferloop] fetching LightGBM {version}'s C headers from {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=300) as reply:
        archive = reply.read()
    digest = hashlib.sha256(archive).hexdigest()
    if digest != SDIST_SHA256[version]:
        sys.exit(f"fetch_lightgbm_headers: {url} has sha256 {digest}, "
                 f"expected {SDIST_SHA256[version]}; refusing it")
    os.makedirs(header_dir, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for name in HEADERS:
            member = tar.getmember(f"lightgbm-{version}/include/LightGBM/{name}")
            data = tar.extractfile(member).read()
            # Written beside, then renamed: an interrupted run leaves no half header.
            target = os.path.join(header_dir, name)
            with open(target + ".part", "wb") as out:
                out.write(data)
            os.replace(target + ".part", target)
    print(include_dir)


if __name__ == "__main__":
    main()
