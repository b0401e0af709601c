"""The operator console's parts without a browser: the audit trail's chain and its guards on
SQLite and PostgreSQL (C15), sign-in with a second factor and lockout (C17), kiosk disable across
processes (shared Redis), the fee CSV. The pages in Chromium: tests/e2e/test_console_browser.py.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from pathlib import Path

import psycopg
import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from cert_center.app import create_app
from cert_center.console.audit import AuditTrail
from cert_center.console.db import CenterDb
from cert_center.console.users import NewUser, UserStore
from launch.cli import main
from vaxcert.config import Settings, load_settings

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _pki_dir(center_pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCERT_PKI_DIR", str(center_pki))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings()
    center = base.center.model_copy(update={"data_dir": tmp_path / "center"})
    return base.model_copy(update={"center": center})


def _db(settings: Settings) -> CenterDb:
    database = CenterDb.from_settings(settings)
    database.migrate()
    return database


def _https(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # the __Host- cookie is Secure
    return client


def _csrf(client: FlaskClient, path: str = "/ops/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _sign_in(client: FlaskClient, made: NewUser, code: str | None = None) -> int:
    response = client.post(
        "/ops/login",
        data={
            "csrf_token": _csrf(client),
            "user_id": made.user_id,
            "password": PASSWORD,
            "code": code or pyotp.TOTP(made.totp_secret).now(),
        },
    )
    return response.status_code


def _fill(trail: AuditTrail) -> None:
    for number in range(5):
        trail.record("login", f"op{number}", {"role": "viewer"}, "127.0.0.1")


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = {"VAXCERT_CENTER__DATA_DIR": str(settings.center.data_dir)}
    if settings.center.database_url is not None:
        env["VAXCERT_CENTER__DATABASE_URL"] = settings.center.database_url.get_secret_value()
    result = CliRunner().invoke(main, ["ops", *args], env=env)
    return result.exit_code, result.output


def test_c15_sqlite_refuses_to_change_or_remove_an_audit_entry(settings: Settings) -> None:
    database = _db(settings)
    _fill(AuditTrail(database))
    for statement in ("UPDATE ops_audit SET actor = 'x' WHERE seq = 2", "DELETE FROM ops_audit"):
        with pytest.raises(DBAPIError, match="append-only"), database.begin() as conn:
            conn.execute(text(statement))
    assert _cli(settings, "audit", "verify") == (0, "audit trail intact: 5 entries\n")


def _tamper(database: CenterDb, statement: str) -> None:
    """What someone with the database file or the owner's login could do."""
    with database.begin() as conn:
        if database.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER ops_audit_no_update"))
            conn.execute(text("DROP TRIGGER ops_audit_no_delete"))
        conn.execute(text(statement))


@pytest.mark.parametrize(
    ("statement", "finding"),
    [
        ("UPDATE ops_audit SET detail = '{}' WHERE seq = 3", "entry 3: its content"),
        ("DELETE FROM ops_audit WHERE seq = 2", "entries 2..2 are missing"),
    ],
)
def test_c15_audit_verify_catches_a_changed_or_removed_entry_on_sqlite(
    settings: Settings, statement: str, finding: str
) -> None:
    database = _db(settings)
    _fill(AuditTrail(database))
    _tamper(database, statement)
    code, output = _cli(settings, "audit", "verify")
    assert code == 1 and finding in output


def test_c15_audit_verify_catches_removed_newest_entries_against_a_head_kept_outside(
    settings: Settings,
) -> None:
    database = _db(settings)
    _fill(AuditTrail(database))
    assert REGISTRY.get_sample_value("vaxcert_center_audit_head_seq") == 5
    code, head = _cli(settings, "audit", "head")
    assert code == 0 and re.fullmatch(r"5:[0-9a-f]{64}\n", head)
    assert _cli(settings, "audit", "verify", "--expect-head", head.strip()) == (
        0,
        "audit trail intact: 5 entries, head 5 present\n",
    )
    _tamper(database, "DELETE FROM ops_audit WHERE seq >= 4")
    # The chain that is left is whole: only the head kept outside shows the cut.
    assert _cli(settings, "audit", "verify")[0] == 0
    code, output = _cli(settings, "audit", "verify", "--expect-head", head.strip())
    assert code == 1 and "entry 5 (the expected head) is missing" in output
    assert _cli(settings, "audit", "verify", "--expect-head", "5:nothex")[0] == 2


def test_c15_postgresql_app_role_may_append_and_read_but_not_change(
    pg_url: str, settings: Settings
) -> None:
    role = f"app_{secrets.token_hex(4)}"
    owner_url = _fresh_pg(pg_url, f"CREATE ROLE {role} LOGIN")
    app_url = make_url(owner_url).set(username=role).render_as_string(hide_password=False)
    from pydantic import SecretStr

    owner = settings.model_copy(
        update={"center": settings.center.model_copy(update={"database_url": SecretStr(owner_url)})}
    )
    code, output = _cli(owner, "db", "setup", "--app-role", role)
    assert code == 0, output
    app_db = CenterDb(app_url)
    _fill(AuditTrail(app_db))  # the app role appends
    assert AuditTrail(app_db).verify() == []
    # ... and runs the console: users made, signed in (counters updated), disabled.
    users = UserStore(app_db)
    made = users.add("op-pg", "admin", PASSWORD)
    assert users.sign_in("op-pg", PASSWORD, pyotp.TOTP(made.totp_secret).now()).outcome == "ok"
    users.disable("op-pg")
    assert users.sign_in("op-pg", PASSWORD, "123456").outcome == "disabled"
    for statement in ("UPDATE ops_audit SET actor = 'x' WHERE seq = 2", "DELETE FROM ops_audit"):
        with pytest.raises(DBAPIError, match="permission denied"), app_db.begin() as conn:
            conn.execute(text(statement))
    app_db.dispose()
    assert _cli(owner, "audit", "verify")[0] == 0
    # The owner (or a superuser) can still change a row: the chain shows it.
    _tamper(CenterDb(owner_url), "UPDATE ops_audit SET source = '10.0.0.9' WHERE seq = 4")
    code, output = _cli(owner, "audit", "verify")
    assert code == 1 and "entry 4: its content was changed" in output
    _tamper(CenterDb(owner_url), "DELETE FROM ops_audit WHERE seq = 2")
    assert "entries 2..2 are missing" in _cli(owner, "audit", "verify")[1]
    head = _cli(owner, "audit", "head")[1].strip()
    _tamper(CenterDb(owner_url), "DELETE FROM ops_audit WHERE seq = 5")
    output = _cli(owner, "audit", "verify", "--expect-head", head)[1]
    assert "entry 5 (the expected head) is missing" in output


def test_c17_user_add_prints_the_otpauth_uri_once(settings: Settings) -> None:
    code, output = _cli(settings, "user", "add", "op-7", "--role", "viewer", "--password", PASSWORD)
    assert code == 0, output
    assert "otpauth://totp/vaxcert%20ops:op-7?secret=" in output
    listed = _cli(settings, "user", "list")[1]
    assert "op-7" in listed and "secret" not in listed
    assert _cli(settings, "user", "add", "op-7", "--role", "viewer", "--password", PASSWORD)[0] == 1
    assert _cli(settings, "user", "add", "op-8", "--role", "viewer", "--password", "short")[0] == 1


def test_c17_wrong_totp_replayed_totp_and_lockout(settings: Settings) -> None:
    users = UserStore(_db(settings), max_failed=3, lockout_minutes=15)
    made = users.add("op-1", "admin", PASSWORD)
    code = pyotp.TOTP(made.totp_secret).now()
    assert users.sign_in("op-1", "wrong password!", code).outcome == "bad_credentials"
    assert users.sign_in("op-1", PASSWORD, "000000" if code != "000000" else "111111").outcome == (
        "bad_totp"
    )
    assert users.sign_in("op-1", PASSWORD, code).outcome == "ok"
    assert users.sign_in("op-1", PASSWORD, code).outcome == "bad_totp"  # a code works once
    assert users.sign_in("op-1", "wrong password!", code).outcome == "bad_credentials"
    third = users.sign_in("op-1", "wrong password!", code)
    assert third.locked_now
    # Locked: even the right password and a fresh code are refused until the lockout ends.
    assert users.sign_in("op-1", PASSWORD, pyotp.TOTP(made.totp_secret).now()).outcome == "locked"
    assert users.sign_in("nobody", PASSWORD, code).outcome == "bad_credentials"
    users.enable("op-1")  # lifts the lock
    fresh = pyotp.TOTP(made.totp_secret).at(time.time() + 30)
    assert users.sign_in("op-1", PASSWORD, fresh).outcome == "ok"


def test_c17_a_stranger_locks_out_only_their_own_address(settings: Settings) -> None:
    console = settings.center.console.model_copy(update={"max_failed_logins": 3})
    strict = settings.model_copy(
        update={"center": settings.center.model_copy(update={"console": console})}
    )
    app = create_app(strict, surface="ops")
    made = UserStore(_db(strict)).add("op-lock", "admin", PASSWORD)
    stranger, operator = _https(app), _https(app)
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    operator.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    token = _csrf(stranger)
    for guess in ("guess one!!!", "guess two!!!", "guess three!"):
        wrong = {"csrf_token": token, "user_id": "op-lock", "password": guess, "code": "123456"}
        assert stranger.post("/ops/login", data=wrong).status_code == 401
    # The stranger's address is locked: even the right password and code fail there ...
    assert _sign_in(stranger, made) == 401
    # ... the operator at their own address signs in.
    assert _sign_in(operator, made) == 302
    assert operator.get("/ops/fleet").status_code == 200
    trail = AuditTrail(_db(strict)).latest()
    assert [(e.event, e.source) for e in trail[:3]] == [
        ("login", "10.0.0.7"),
        ("login_failed", "203.0.113.9"),
        ("user_locked", "203.0.113.9"),
    ]
    assert '"cause":"locked"' in trail[1].detail


def test_c17_disabling_a_user_ends_their_session_and_each_step_is_audited(
    settings: Settings,
) -> None:
    app = create_app(settings, surface="ops")
    users = UserStore(_db(settings))
    made = users.add("op-2", "viewer", PASSWORD)
    client = _https(app)
    assert client.get("/ops/fleet").status_code == 302
    assert _sign_in(client, made) == 302
    assert client.get("/ops/fleet").status_code == 200
    assert client.get("/ops/audit").status_code == 403  # a viewer reads no audit trail
    users.disable("op-2")
    response = client.get("/ops/fleet")
    assert response.status_code == 302 and response.location.endswith("/ops/login")
    events = [e.event for e in AuditTrail(_db(settings)).latest()]
    assert events[:2] == ["session_refused", "login"]


def test_c17_a_cookie_copied_before_sign_out_is_refused_after_it(settings: Settings) -> None:
    app = create_app(settings, surface="ops")
    made = UserStore(_db(settings)).add("op-out", "viewer", PASSWORD)
    client = _https(app)
    assert _sign_in(client, made) == 302
    cookie = client.get_cookie("__Host-vaxcert-ops")
    assert cookie is not None
    token = _csrf(client, "/ops/fleet")
    assert client.post("/ops/logout", data={"csrf_token": token}).status_code == 302
    thief = _https(app)  # the same cookie, replayed after the operator signed out
    thief.set_cookie("__Host-vaxcert-ops", cookie.value, domain="localhost", secure=True)
    response = thief.get("/ops/fleet")
    assert response.status_code == 302 and response.location.endswith("/ops/login")
    events = [e.event for e in AuditTrail(_db(settings)).latest()]
    assert events[:2] == ["session_refused", "logout"]
    assert _sign_in(client, made, pyotp.TOTP(made.totp_secret).at(time.time() + 30)) == 302
    assert client.get("/ops/fleet").status_code == 200


def test_c17_forms_need_their_csrf_token(settings: Settings) -> None:
    client = _https(create_app(settings, surface="ops"))
    response = client.post(
        "/ops/login", data={"user_id": "op", "password": PASSWORD, "code": "123456"}
    )
    assert response.status_code == 400
    assert 'data-error="csrf"' in response.get_data(as_text=True)


def test_disabled_kiosk_is_refused_by_every_kiosk_api_process_at_once(
    settings: Settings, redis_url: str, kiosk_pem: dict[str, str]
) -> None:
    shared = settings.model_copy(
        update={"redis_url": redis_url, "redis_prefix": f"console-{secrets.token_hex(4)}:"}
    )
    ops = _https(create_app(shared, surface="ops"))
    replicas = [create_app(shared, surface="kiosk_api").test_client() for _ in range(2)]
    as_kiosk = {"SSL_CLIENT_CERT": kiosk_pem["KIOSK-0001"]}
    for replica in replicas:  # each has read (and cached) "enabled"
        assert replica.get("/v1/kiosk/config", environ_base=as_kiosk).status_code == 200
    made = UserStore(_db(shared)).add("admin-1", "admin", PASSWORD)
    assert _sign_in(ops, made) == 302
    token = _csrf(ops, "/ops/fleet")
    assert ops.post("/ops/fleet/KIOSK-0001/disable", data={"csrf_token": token}).status_code == 302
    for replica in replicas:
        refused = replica.get("/v1/kiosk/config", environ_base=as_kiosk)
        assert refused.status_code == 403
        assert refused.json is not None and refused.json["error"]["code"] == "kiosk_disabled"
    # Redis flushed or evicted: the database still decides.
    import redis

    redis.Redis.from_url(redis_url).delete(f"{shared.redis_prefix}center:kiosk-state:KIOSK-0001")
    assert replicas[0].get("/v1/kiosk/config", environ_base=as_kiosk).status_code == 403
    assert ops.post("/ops/fleet/KIOSK-0001/enable", data={"csrf_token": token}).status_code == 302
    assert replicas[1].get("/v1/kiosk/config", environ_base=as_kiosk).status_code == 200
    events = [e.event for e in AuditTrail(_db(shared)).latest()]
    assert events[:2] == ["kiosk_enabled", "kiosk_disabled"]


def test_fee_csv_is_audited_and_its_cells_never_run_as_formulas(settings: Settings) -> None:
    client = _https(create_app(settings, surface="ops"))
    made = UserStore(_db(settings)).add("aud-1", "auditor", PASSWORD)
    assert _sign_in(client, made) == 302
    response = client.get("/ops/fees/462012.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "date" and rows[1][1] == "462012"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    missing = client.get("/ops/fees/999999.csv")
    assert missing.status_code == 404
    assert 'data-error="not-found"' in missing.get_data(as_text=True)
    assert 'data-error="forbidden"' not in missing.get_data(as_text=True)
    elsewhere = client.get("/ops/no/such/page")
    assert elsewhere.status_code == 404 and 'data-error="not-found"' in elsewhere.get_data(
        as_text=True
    )
    assert _https(client.application).get("/ops/no/such/page").status_code == 302  # sign in
    assert AuditTrail(_db(settings)).latest()[0].event == "fees_exported"


def test_every_console_text_has_a_current_japanese_translation() -> None:
    import gettext

    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    folder = root / "cert_center" / "translations" / "ja" / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="ja")
    with (folder / "messages.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    sources = [
        *(("jinja2", p) for p in (root / "templates" / "cert_center" / "console").glob("*.html")),
        *(("python", p) for p in (root / "cert_center" / "console").glob("*.py")),
    ]
    texts = {
        found[1]
        for method, path in sources
        for found in extract_from_file(method, str(path))
        if isinstance(found[1], str)
    }
    assert len(texts) > 80
    for text_id in texts:
        message = catalog.get(text_id)
        assert message is not None and message.string, f"no Japanese for {text_id!r}"
        assert compiled.gettext(text_id) == message.string, (
            "stale messages.mo: run .venv/bin/pybabel compile -d cert_center/translations"
        )


def test_c17_an_idle_session_ends(settings: Settings) -> None:
    client = _https(create_app(settings, surface="ops"))
    made = UserStore(_db(settings)).add("op-idle", "viewer", PASSWORD)
    assert _sign_in(client, made) == 302
    assert client.get("/ops/health").status_code == 200
    idle = settings.center.console.idle_timeout_minutes * 60
    with client.session_transaction() as session:
        session["seen"] -= idle + 1  # as if the operator had walked away
    response = client.get("/ops/health")
    assert response.status_code == 302 and response.location.endswith("/ops/login")
    assert client.get("/ops/health").status_code == 302  # the session is gone, not resumed
    assert AuditTrail(_db(settings)).latest()[0].event == "session_expired"


def test_c17_sign_in_attempts_are_limited_per_address(settings: Settings) -> None:
    console = settings.center.console.model_copy(update={"login_attempts_per_minute": 3})
    limited = settings.model_copy(
        update={"center": settings.center.model_copy(update={"console": console})}
    )
    client = _https(create_app(limited, surface="ops"))
    token = _csrf(client)
    statuses = [
        client.post(
            "/ops/login",
            data={"csrf_token": token, "user_id": f"u{n}x", "password": "x", "code": "123456"},
        ).status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_c15_security_events_of_the_kiosk_api_reach_the_trail(settings: Settings) -> None:
    from cert_center.console import audit

    create_app(settings, surface="kiosk_api")
    audit.record("alert", "alerts", {"rule": "refusal_burst", "kiosk": "KIOSK-0001"}, "alerts")
    (entry,) = AuditTrail(_db(settings)).latest(1)
    assert (entry.event, entry.actor, entry.source) == ("alert", "alerts", "alerts")
    assert '"kiosk":"KIOSK-0001"' in entry.detail
    # The database gone: the caller's request goes on, the event still reaches the audit log.
    broken = settings.model_copy(
        update={"center": settings.center.model_copy(update={"data_dir": Path("/proc/none")})}
    )
    audit.install(AuditTrail(CenterDb.from_settings(broken)))
    audit.record("alert", "alerts", {}, "alerts")


def test_without_redis_each_process_sees_a_disable_within_a_second(settings: Settings) -> None:
    from cert_center.console.kiosks import KioskStates
    from vaxcert.kvstore import MemoryStore

    now = [1000.0]
    database = _db(settings)
    kiosks = settings.center.kiosks
    api_process = KioskStates(database, MemoryStore(clock=lambda: now[0]), kiosks, 30)
    ops_process = KioskStates(database, MemoryStore(), kiosks, 30)
    assert api_process.is_enabled("KIOSK-0001")
    ops_process.set_enabled("KIOSK-0001", False, "admin-1")
    now[0] += 1.01  # the in-process copy lives one second, not cache_seconds
    assert not api_process.is_enabled("KIOSK-0001")
    assert [s.enabled for s in ops_process.all() if s.kiosk_id == "KIOSK-0001"] == [False]


def test_active_alerts_show_as_a_banner_on_every_page(settings: Settings) -> None:
    import datetime as dt

    from cert_center.console import sources as src
    from cert_center.console.db import CenterDb as Db
    from vaxcert import kvstore

    class Firing:
        def active(self) -> list[src.Alert]:
            since = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
            return [src.Alert("refusal_burst", "critical", since, "KIOSK-0002: 40 in 5 min")]

    store = kvstore.MemoryStore()
    database = Db.from_settings(settings)
    base = src.build_sources(settings, store, database)
    app = create_app(settings, surface="ops")
    app.extensions["vaxcert_console_sources"] = src.Sources(
        base.fleet, base.tallies, base.health, Firing()
    )
    client = _https(app)
    assert 'data-alert="refusal_burst"' not in client.get("/ops/login").get_data(as_text=True)
    made = UserStore(_db(settings)).add("op-alert", "viewer", PASSWORD)
    assert _sign_in(client, made) == 302
    for page in ("fleet", "health", "issuance", "fees"):
        html = client.get(f"/ops/{page}").get_data(as_text=True)
        assert 'role="alert" data-alert="refusal_burst"' in html
        assert "KIOSK-0002: 40 in 5 min" in html


def _fresh_pg(pg_url: str, *statements: str) -> str:
    """A new database on the test cluster (and ``statements`` run first), as its superuser."""
    name = f"console_{secrets.token_hex(4)}"
    url = make_url(pg_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as admin:
        for statement in (*statements, f"CREATE DATABASE {name}"):
            admin.execute(statement)
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_c15_appends_from_many_threads_keep_one_unbroken_chain(
    backend: str, settings: Settings, request: pytest.FixtureRequest
) -> None:
    import threading

    if backend == "postgresql":
        database = CenterDb(_fresh_pg(request.getfixturevalue("pg_url")))
        database.migrate()
    else:
        database = _db(settings)
    trail = AuditTrail(database)

    def append(worker: int) -> None:
        for number in range(15):
            trail.record("login", f"op{worker}", {"n": number}, "127.0.0.1")

    threads = [threading.Thread(target=append, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert trail.count() == 90
    assert trail.verify() == []
    database.dispose()


def test_c21_an_alert_is_an_audit_entry_and_a_banner(settings: Settings) -> None:
    from cert_center.alerts import AUDIT_EVENT

    app = create_app(settings, surface="ops")
    center = app.extensions["vaxcert_center"]
    assert center.alerts.fire("kiosk_refusals", "KIOSK-0002", 31, 30, 600) is not None
    (entry,) = AuditTrail(_db(settings)).latest(1)
    assert (entry.event, entry.actor, entry.source) == (AUDIT_EVENT, "system", "cert-center")
    assert '"subject":"KIOSK-0002"' in entry.detail
    client = _https(app)
    made = UserStore(_db(settings)).add("op-c21", "viewer", PASSWORD)
    assert _sign_in(client, made) == 302
    html = client.get("/ops/fleet").get_data(as_text=True)
    assert 'data-alert="kiosk_refusals"' in html and "KIOSK-0002: 31 in 600 s" in html
