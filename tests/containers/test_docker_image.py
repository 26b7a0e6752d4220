"""The built XGBoost image: its command, its user, and no secrets in its layers."""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from smtune.containers.local.docker import DOCKER, docker

pytestmark = pytest.mark.docker

AWS_ACCESS_KEY = re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
DOC_EXAMPLE = re.compile(rb"EXAMPLE\b")  # AWS documentation's sample keys, in botocore's data
CREDENTIAL_URL = re.compile(rb"https?://[^/\s:@]+:[^/\s@]+@")
CONFIG_FILE = re.compile(r"(^etc/|^root/|\.(conf|cfg|ini|toml|netrc|pypirc)$|/pip\.conf$)")
HOST_CAS = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))


def test_sagemaker_starts_it_as_docker_run_image_train(docker_image: str) -> None:
    config = json.loads(docker("image", "inspect", docker_image).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["python", "-m", "smtune.entrypoints.xgboost"]  # exec form
    assert config["Cmd"] == ["train"]
    assert config["User"] in ("", "root")  # SageMaker's /opt/ml is root's
    assert "PYTHONUNBUFFERED=1" in config["Env"]


def test_other_commands_are_refused_with_a_reason(docker_image: str) -> None:
    result = docker("run", "--rm", docker_image, "serve", check=False)
    assert result.returncode == 2
    assert "command 'serve' is not supported: this image only trains" in result.stderr


def _pem_bodies(path: Path) -> list[bytes]:
    text = path.read_bytes()
    return [
        b"".join(m.split())
        for m in re.findall(rb"-----BEGIN CERTIFICATE-----(.+?)-----END", text, re.S)
    ]


def scan(image_ref: str, folder: Path) -> tuple[int, list[str]]:
    """(files seen, findings) over every file of every layer of an image."""
    archive = folder / "image.tar"
    subprocess.run([DOCKER, "save", "--output", str(archive), image_ref], check=True)
    host_cas = [body[:120] for path in HOST_CAS for body in _pem_bodies(path)]
    findings: list[str] = []
    files = 0
    with tarfile.open(archive) as image:
        for member in image.getmembers():
            blob = image.extractfile(member) if member.isfile() else None
            if blob is None:
                continue
            try:
                layer = tarfile.open(fileobj=io.BytesIO(blob.read()))  # noqa: SIM115 - in memory
            except tarfile.ReadError:
                continue  # a manifest or config, not a layer
            for entry in layer.getmembers():
                if not entry.isfile():
                    continue
                files += 1
                name = entry.name
                if Path(name).name in (".netrc", "pip.conf", "credentials", ".pypirc"):
                    findings.append(f"{name}: a credentials file")
                data = layer.extractfile(entry).read()  # type: ignore[union-attr]
                flat = b"".join(data.split()) if b"BEGIN CERTIFICATE" in data else b""
                findings += [f"{name}: a host CA" for ca in host_cas if flat and ca in flat]
                findings += [
                    f"{name}: AWS key {key.group()!r}"
                    for key in AWS_ACCESS_KEY.finditer(data)
                    if not DOC_EXAMPLE.match(data, key.end() - 7)
                ]
                # Libraries document user:pass@ URLs; configuration must not hold one.
                if CONFIG_FILE.search(name) and CREDENTIAL_URL.search(data):
                    findings.append(f"{name}: a URL with credentials")
    return files, findings


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_no_host_ca_or_credential_in_any_layer(docker_image: str, tmp_path: Path) -> None:
    """The build must not bake in what the host trusts or knows."""
    files, findings = scan(docker_image, tmp_path)
    assert files > 1000  # the scan saw the image, not an empty archive
    assert findings == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_scan_finds_what_a_careless_build_bakes_in(docker_image: str, tmp_path: Path) -> None:
    if not HOST_CAS:
        pytest.skip("this host trusts no extra CA to plant")
    context = tmp_path / "context"
    context.mkdir()
    (context / "host-ca.crt").write_bytes(HOST_CAS[0].read_bytes())
    fake_key = "AKIA" + "Q7" * 8  # built here, so this file holds no key-shaped literal
    (context / "Dockerfile").write_text(
        f"FROM {docker_image}\n"
        "COPY host-ca.crt /usr/local/share/ca-certificates/host-ca.crt\n"
        "RUN mkdir -p /root/.aws\n"
        f"RUN echo 'aws_access_key_id = {fake_key}' > /root/.aws/credentials\n"
        "RUN echo 'index-url = https://me:secret@pypi.example/simple' > /etc/pip.conf\n"
    )
    careless = "smtune-test-careless:scan"
    subprocess.run([DOCKER, "build", "--quiet", "--tag", careless, str(context)], check=True)
    try:
        _, findings = scan(careless, tmp_path)
    finally:
        docker("image", "rm", "--force", careless, check=False)
    assert any("host-ca.crt: a host CA" in f for f in findings), findings
    assert any(f"AWS key b'{fake_key}'" in f for f in findings), findings
    assert any("root/.aws/credentials: a credentials file" in f for f in findings), findings
    assert any("etc/pip.conf: a URL with credentials" in f for f in findings), findings
