"""The demo's VRS: a small seeded database in a temporary directory (`vaxcert demo` calls this).

It also issues a development LGWAN terminal certificate and a staff token for Kagoshima City so
the staff API can be tried by hand.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from vaxcert import lgcode, pki
from vaxcert.config import Settings
from vrs_stub import seed
from vrs_stub.store import Store

DEMO_RESIDENTS = 500
DEMO_TERMINAL = "lgwan-terminal-462012"


@dataclass
class DemoVrs:
    """What the demo runner needs: environment for the vrs child and lines for the banner."""

    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def prepare(settings: Settings) -> DemoVrs:
    """Seed the demo VRS; a configured database is used (and seeded once) instead of a temp dir."""
    env: dict[str, str] = {}
    if settings.vrs.database_url is None:
        directory = Path(tempfile.mkdtemp(prefix="vaxcert-vrs-demo-"))
        atexit.register(shutil.rmtree, directory, True)
        vrs = settings.vrs.model_copy(update={"data_dir": directory})
        settings = settings.model_copy(update={"vrs": vrs})
        env["VAXCERT_VRS__DATA_DIR"] = str(directory)
    store = Store.from_settings(settings)
    try:
        store.migrate()
        with store.transaction(write=False) as conn:
            empty = not store.municipality_codes(conn)
        if empty:
            seed.seed(store, [lgcode.KAGOSHIMA_CITY, lgcode.KIRISHIMA_CITY], DEMO_RESIDENTS)
        with store.transaction() as conn:
            token = store.issue_token(
                conn, lgcode.KAGOSHIMA_CITY, "demo-staff", ("import", "export", "delete", "logs"), 1
            )
    finally:
        store.dispose()
    pki.issue_terminal_cert(settings.pki_dir, DEMO_TERMINAL)
    where = env.get("VAXCERT_VRS__DATA_DIR", "the configured database")
    notes = [
        f"  VRS:      {DEMO_RESIDENTS} synthetic residents + the edge-case residents in {where}",
        f"            staff API (Kagoshima City 462012) with cert {DEMO_TERMINAL}.crt.pem and",
        f"            Authorization: Bearer {token}",
    ]
    return DemoVrs(env, notes)
