"""Make docker/secrets/: the development PKI and every secret file compose.yaml mounts.

DEVELOPMENT ONLY. The certificates are the development PKI's (the services accept them only with
VAXCERT_ENVIRONMENT=development and warn at every use); the tokens, keys and passwords are random
and new for each directory. Production puts its own files at the same paths (docker/README.md).

Each role gets a PKI directory with the public certificates and only its own private keys, so a
container holds no other role's key (C09). Files are mode 0600 for the owner who runs the
script, then readable by every user inside the containers (:func:`open_to_containers`), while the
directory itself stays 0700 on the host.

    .venv/bin/python docker/dev_secrets.py [--dir docker/secrets] [--kiosk KIOSK-0001 ...]
"""

from __future__ import annotations

import argparse
import base64
import secrets
import shutil
import tempfile
from pathlib import Path

from launch import topology
from vaxcert import pki

ISSUER_URL = "https://localhost:8446/issuer"
# The whole development PKI, every private key included: the CAs' keys issue from here; never
# mounted into a container, never opened to them.
ALL_KEYS = "pki-all"
# The names services reach each other by: compose service names and Kubernetes Service names.
HOSTS = [
    "edge",
    "lgwan-edge",
    "center-kiosk-api",
    "center-app-api",
    "center-ops",
    # Kubernetes: the operator console's Service (k8s/base/center.yaml).
    "center-console",
    "vrs",
    "signer-api",
    "signer-public",
    "verifier",
    "kiosk",
]
# Behind the edge the center's and VRS's listeners accept only client certificates of the edge's
# own CA (VAXCERT_LISTENERS__<SURFACE>__CLIENT_CA=edge-ca, launch/topology.py makes it and the
# edge's certificate): the edge's and, for the containers' health probes (`vaxcert health`), one
# with CN healthz-probe. The signer is called directly by the center (internal CA) and has a
# probe certificate of that CA.
PROBES = [
    pki.Spec("healthz-probe-edge", "healthz-probe", "client", topology.EDGE_CA),
    pki.Spec("healthz-probe-internal", "healthz-probe", "client", "internal-ca"),
]
# The private keys each role's PKI directory holds; every role gets every public certificate.
ROLE_KEYS = {
    "center": [
        "center-kiosk-api",
        "center-app-api",
        "center-ops",
        "center-lgwan-client",
        "center-internal-client",
        "healthz-probe-edge",
    ],
    "vrs": ["vrs", "healthz-probe-edge"],
    # Development: the signer adopts the dev keys and certifies with the dev roots (docs/signer.md).
    "signer": [
        "signer-api",
        "signer-public",
        "shc-root",
        "shc-issuer",
        "vdsnc-csca",
        "vdsnc-bsc",
        "healthz-probe-internal",
    ],
    # The development kiosk's virtual card reader makes its cards with the dev J-LIS CA's key;
    # a production kiosk reads real cards (VAXCERT_CARD__READER=pcsc) and has no such key.
    "kiosk": ["kiosk-KIOSK-0001", "jlis-ca"],
    # The verifier's development trust store is built from the public certificates.
    "verifier": [],
    "monitoring": [],
}


def _write(path: Path, text: str) -> None:
    pki.write_private(path, text.encode())


def make(target: Path, kiosk_ids: list[str]) -> None:
    """Create (or complete) the secrets directory ``target``; existing secrets are kept."""
    full = target / ALL_KEYS
    pki.init(full, ISSUER_URL, kiosk_ids, HOSTS)
    if not pki.cert_path(full, topology.EDGE_CLIENT).exists():
        topology.issue_edge_certificates(full)
    for spec in PROBES:
        if not pki.cert_path(full, spec.name).exists():
            pki.issue(full, spec)
    public = [p for p in full.iterdir() if p.is_file() and not p.name.endswith(".key.pem")]
    for role, keys in ROLE_KEYS.items():
        directory = target / f"pki-{role}"
        directory.mkdir(mode=0o700, exist_ok=True)
        for path in public:
            shutil.copy2(path, directory / path.name)
        for name in keys:
            shutil.copy2(pki.key_path(full, name), pki.key_path(directory, name))
    # The edge's files as its template reads them (NAME.crt/.key, the kiosks' CRL): laid out by
    # the loopback topology's own function, then moved into place.
    with tempfile.TemporaryDirectory(dir=target) as staging:
        laid_out = topology.edge_pki(full, Path(staging))
        shutil.rmtree(target / "pki-edge", ignore_errors=True)
        shutil.move(laid_out, target / "pki-edge")
    values = {
        "metrics_token": secrets.token_urlsafe(32),
        "auditor_token": secrets.token_urlsafe(32),
        "card_use_secret": secrets.token_urlsafe(32),
        "vrs_master_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "postgres_password": secrets.token_urlsafe(24),
        "softhsm_so_pin": secrets.token_hex(8),
        "softhsm_user_pin": secrets.token_hex(8),
        "grafana_admin_password": secrets.token_urlsafe(16),
        "secret_key": secrets.token_urlsafe(32),
        "redis_password": secrets.token_urlsafe(24),
        "center_db_owner_password": secrets.token_urlsafe(24),
        "center_db_app_password": secrets.token_urlsafe(24),
    }
    for name, value in values.items():
        path = target / name
        if path.exists():
            values[name] = path.read_text().strip()
        else:
            _write(path, value + "\n")
    for name, text in config_files(values).items():
        _write(target / name, text)


# The center's own database on the PostgreSQL server (cert_center/console/db.py): made by its
# owner role, used by the services as a role that may append to the audit trail, never change it
# (C15; `vaxcert ops db setup --app-role`, the center-db-setup service/Job).
CENTER_DATABASE = "center"
CENTER_OWNER_ROLE = "center_owner"
CENTER_APP_ROLE = "center_app"


def _postgres_url(role: str, password: str, database: str) -> str:
    return f"postgresql+psycopg://{role}:{password}@postgres:5432/{database}"


def config_files(values: dict[str, str]) -> dict[str, str]:
    """The secret files made from ``values`` (the random secrets above), by file name.

    The settings without a *_file form come from a TOML file mounted as a secret (VAXCERT_CONFIG).
    """
    app_url = _postgres_url(CENTER_APP_ROLE, values["center_db_app_password"], CENTER_DATABASE)
    owner_url = _postgres_url(
        CENTER_OWNER_ROLE, values["center_db_owner_password"], CENTER_DATABASE
    )
    vrs_url = _postgres_url("vrs", values["postgres_password"], "vrs")
    return {
        "vrs.toml": f'[vrs]\ndatabase_url = "{vrs_url}"\n',
        "signer.toml": f'[signer.pkcs11]\nuser_pin = "{values["softhsm_user_pin"]}"\n',
        # Every center surface: users, audit trail and kiosk states shared through PostgreSQL.
        "center.toml": (
            f'secret_key = "{values["secret_key"]}"\n'
            f'redis_url = "redis://:{values["redis_password"]}@redis:6379/0"\n'
            f'\n[center]\ndatabase_url = "{app_url}"\n'
        ),
        # Only the one-shot setup (center-db-setup) connects as the tables' owner.
        "center-db-setup.toml": f'[center]\ndatabase_url = "{owner_url}"\n',
        # Run once by PostgreSQL's entrypoint on an empty data directory (docker-entrypoint-
        # initdb.d): the center's database and its two login roles; nobody else may connect.
        "postgres-init-center.sql": (
            f"CREATE ROLE {CENTER_OWNER_ROLE} LOGIN PASSWORD "
            f"'{values['center_db_owner_password']}';\n"
            f"CREATE ROLE {CENTER_APP_ROLE} LOGIN PASSWORD "
            f"'{values['center_db_app_password']}';\n"
            f"CREATE DATABASE {CENTER_DATABASE} OWNER {CENTER_OWNER_ROLE};\n"
            f"REVOKE ALL ON DATABASE {CENTER_DATABASE} FROM PUBLIC;\n"
            f"GRANT CONNECT ON DATABASE {CENTER_DATABASE} TO {CENTER_APP_ROLE};\n"
        ),
        # Redis reads its password from its configuration file, mounted as a secret too.
        "redis.conf": (
            f"requirepass {values['redis_password']}\n"
            "# Ephemeral state only (nonces, rate limits, breakers): nothing is written to disk.\n"
            'save ""\nappendonly no\n'
        ),
    }


def open_to_containers(target: Path) -> None:
    """Make every file under ``target`` readable inside the containers.

    Compose outside Swarm bind-mounts secret files with their host owner and mode, and each
    consumer runs as its own user (vaxcert 10001, postgres 999, prometheus 65534, grafana 472).
    For development the files are made world-readable; ``target`` itself stays 0700, so on the
    host only its owner (and the container engine) gets in. Production sets owner and mode per
    consumer (Kubernetes: defaultMode and fsGroup, k8s/).
    """
    target.chmod(0o700)
    for path in target.rglob("*"):
        if ALL_KEYS not in path.relative_to(target).parts:
            path.chmod(0o755 if path.is_dir() else 0o644)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "secrets")
    parser.add_argument("--kiosk", action="append", default=None)
    args = parser.parse_args()
    target: Path = args.dir.resolve()
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    make(target, args.kiosk or ["KIOSK-0001", "KIOSK-0002"])
    open_to_containers(target)
    print(f"{target}: development secrets ready (docker/README.md)")


if __name__ == "__main__":
    main()
