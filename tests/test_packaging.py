"""The wheel ships every template, static file and translation, and a non-editable install
serves them with no checkout in sight (cwd ``/``, the development PKI in the user's data dir)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from launch.demo import free_port

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("vaxcert", "kiosk", "cert_center", "signer", "vrs_stub", "verifier", "launch")
# Not product files: version control placeholders and build leftovers.
NOT_SHIPPED = {".gitkeep"}


def _data_files() -> dict[str, Path]:
    """What the wheel must hold besides modules: name in the wheel -> file in the checkout."""
    wanted: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*"):
            if (
                path.is_file()
                and path.suffix not in (".py", ".pyc")
                and "__pycache__" not in str(path)
            ):
                wanted[path.relative_to(REPO).as_posix()] = path
    for path in (REPO / "templates").rglob("*"):
        if path.is_file() and path.name not in NOT_SHIPPED:
            wanted["vaxcert/templates/" + path.relative_to(REPO / "templates").as_posix()] = path
    return wanted


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built as a user would, from a copy of the checkout (an in-tree build would leave
    build/ in the worktree, and setuptools would pack files a stale build/ still holds)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(root)],
        check=True,
        capture_output=True,
    )
    (built,) = root.glob("vaxcert-*.whl")
    return built


def test_the_wheel_holds_every_template_static_file_and_translation(wheel: Path) -> None:
    wanted = _data_files()
    assert "vaxcert/templates/kiosk/welcome.html" in wanted  # the walk found the templates
    # The recorded prompts are git-ignored but built by `make` before the wheel (docs/kiosk.md).
    assert "kiosk/static/audio/ja/take-card.ogg" in wanted
    assert "kiosk/static/audio/manifest.json" in wanted
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = sorted(set(wanted) - names)
        assert not missing, f"not in the wheel: {missing}"
        changed = [n for n, path in wanted.items() if archive.read(n) != path.read_bytes()]
        assert not changed, changed
    modules = {
        path.relative_to(REPO).as_posix()
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
    }
    assert not modules - names, sorted(modules - names)


def _get(session: requests.Session, url: str) -> requests.Response:
    response = session.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return response


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel (and its dependencies) installed, as a user would."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    return venv


def _outside_env(tmp_path: Path) -> dict[str, str]:
    """Nothing of the checkout or of this run's configuration reaches the installed product."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAXCERT_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    return env


@pytest.mark.slow
def test_an_installed_wheel_serves_kiosk_and_verifier_pages_from_anywhere(
    installed: Path, tmp_path: Path
) -> None:
    venv = installed
    env = _outside_env(tmp_path)
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import vaxcert.web; print(vaxcert.web.TEMPLATES_ROOT)",
        ],
        cwd="/",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    kiosk, verifier = free_port(), free_port()
    env.update(
        VAXCERT_LISTENERS__KIOSK__PORT=str(kiosk),
        VAXCERT_LISTENERS__VERIFIER__PORT=str(verifier),
        VAXCERT_WORKERS="1",
        VAXCERT_THREADS="2",
    )
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [str(venv / "bin" / "vaxcert"), "demo", "--only", "kiosk", "--only", "verifier"],
            cwd="/",
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log.read_text(errors="replace"):
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        assert (tmp_path / "data" / "vaxcert" / "pki" / "public-ca.crt.pem").is_file()
        with requests.Session() as session:
            session.trust_env = False
            base = f"http://127.0.0.1:{kiosk}"
            assert "<html" in _get(session, base + "/").text
            assert "demo" in _get(session, base + "/demo").text
            for name in ("kiosk.js", "kiosk.css", "demo.js", "audio/ja/take-card.ogg"):
                _get(session, f"{base}/static/kiosk/{name}")
        with requests.Session() as session:
            session.trust_env = False
            # The verifier page is TLS (a camera needs a secure page): the demo's dev CA.
            session.verify = str(tmp_path / "data" / "vaxcert" / "pki" / "public-bundle.pem")
            base = f"https://127.0.0.1:{verifier}"
            assert "証明書" in _get(session, base + "/?lang=ja").text  # the compiled catalogue
            assert "<html" in _get(session, base + "/?lang=en").text
            for name in ("verifier.css", "camera.js"):
                _get(session, f"{base}/static/verifier/{name}")
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0, log.read_text()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()


@pytest.mark.slow
def test_an_installed_wheel_lists_the_controls_and_says_it_has_no_test_suite(
    installed: Path, tmp_path: Path
) -> None:
    # The roof knows the tests only in a checkout; from a wheel it still lists every control.
    result = subprocess.run(
        [str(installed / "bin" / "vaxcert"), "controls", "--json"],
        cwd="/",
        env=_outside_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    matrix = json.loads(result.stdout)
    assert matrix["test_suite"]["available"] is False
    assert [row["id"] for row in matrix["controls"]] == [f"C{n:02}" for n in range(1, 23)]
    assert {row["status"] for row in matrix["controls"]} == {"unknown"}
    text = subprocess.run(
        [str(installed / "bin" / "vaxcert"), "controls"],
        cwd="/",
        env=_outside_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "test suite: not available" in text
