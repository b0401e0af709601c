"""The operator console at ``/ops`` on the ops surface: sign-in (C17), pages, audit trail (C15).

Thin views: sign-in and users are :mod:`users`, the trail :mod:`audit`, kiosk states
:mod:`kiosks`, what pages show :mod:`sources`. Every state change is a POST with a CSRF token
(Flask-WTF, app-wide) and leaves an audit entry.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from cert_center.console import charts
from cert_center.console.audit import AuditTrail
from cert_center.console.kiosks import KioskStates
from cert_center.console.sources import Bucket, Sources
from cert_center.console.users import User, UserStore
from cert_center.refusal_days import DailyRefusals
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.spreadsheet import spreadsheet_safe

console = Blueprint("console", __name__, url_prefix="/ops")
login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = ""
# "strong": a session cookie replayed from another address or browser is dropped.
login_manager.session_protection = "strong"

# Sign-in attempts per client address (C17); storage and the limit come from install().
limiter = Limiter(get_remote_address)


def _login_limit() -> str:
    return f"{_settings().center.console.login_attempts_per_minute}/minute"


View = TypeVar("View", bound=Callable[..., Any])
PAGES = ("fleet", "health", "issuance", "fees")


class SessionUser:
    """The signed-in operator as Flask-Login sees it; its id carries the user's epoch (C17)."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.user_id}:{self.user.epoch}"


class LoginForm(FlaskForm):  # type: ignore[misc]
    user_id = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=256)])
    code = StringField(validators=[DataRequired(), Length(max=10)])


def _ext(name: str) -> Any:
    return current_app.extensions[f"vaxcert_console_{name}"]


def _users() -> UserStore:
    users: UserStore = _ext("users")
    return users


def _trail() -> AuditTrail:
    trail: AuditTrail = _ext("audit")
    return trail


def _sources() -> Sources:
    sources: Sources = _ext("sources")
    return sources


def _settings() -> Settings:
    settings: Settings = current_app.config["VAXCERT_SETTINGS"]
    return settings


def _where() -> str:
    return request.remote_addr or "unknown"


def _load(session_id: str) -> SessionUser | None:
    """The session's user, only while enabled and of the same epoch (C17: revocation at once)."""
    user_id, _sep, epoch = session_id.rpartition(":")
    user = _users().get(user_id)
    if user is None or not user.enabled or str(user.epoch) != epoch:
        if user is not None and request.blueprint == "console":
            # An ended session presented again: after sign-out, disable or a role change, or
            # a copied cookie replayed (C17).
            _trail().record("session_refused", user.user_id, {"cause": "ended"}, _where())
        return None
    return SessionUser(user)


login_manager.user_loader(_load)


def _me() -> User:
    user: User = current_user.user
    return user


def requires(*roles: str) -> Callable[[View], View]:
    """Signed in, and (when given) one of ``roles``; otherwise the sign-in page or a 403 page."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("console.login"))
            if roles and _me().role not in roles:
                return render_template("console/forbidden.html"), 403
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _not_found() -> tuple[str, int]:
    """A 404 says "not found", not "not allowed": the role is fine, the thing does not exist."""
    return render_template("console/not-found.html"), 404


@console.before_request
def _idle_timeout() -> BaseResponse | None:
    """End a session idle longer than the setting (C17); a viewer's wall screen refresh counts
    as activity, nobody else's (an admin's screen left open signs itself out)."""
    g.wall = request.args.get("wall") == "1"
    # How often a wall screen reloads (?refresh=SECONDS, 5 to 600; 30 by default).
    g.wall_seconds = min(max(request.args.get("refresh", 30, type=int) or 30, 5), 600)
    if not current_user.is_authenticated:
        return None
    now = time.time()
    seen = session.get("seen", 0.0)
    limit = _settings().center.console.idle_timeout_minutes * 60
    if now - seen > limit:
        _trail().record("session_expired", _me().user_id, {}, _where())
        logout_user()
        session.clear()
        flash(_("Your session ended after a period of inactivity. Please sign in again."))
        return redirect(url_for("console.login"))
    if not g.wall or _me().role == "viewer":
        session["seen"] = now
    return None


@console.app_context_processor
def _globals() -> dict[str, Any]:
    signed_in = current_user.is_authenticated if current_user else False
    return {
        "me": _me() if signed_in else None,
        "alerts": _sources().alerts.active() if signed_in else [],
        "pages": PAGES,
        "lang": g.get("console_lang", "ja"),
    }


@console.get("/lang/<lang>")
def language(lang: str) -> BaseResponse:
    if lang in ("ja", "en"):
        session["lang"] = lang
    target = request.args.get("next", "")
    # Only our own pages: never an open redirect.
    if not target.startswith("/ops/") or target.startswith("//"):
        target = url_for("console.fleet")
    return redirect(target)


@console.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if request.method == "GET":
        return render_template("console/login.html", form=form)
    if not form.validate():
        return render_template("console/login.html", form=form, failed=True), 400
    attempt = _users().sign_in(form.user_id.data, form.password.data, form.code.data, _where())
    if attempt.outcome != "ok" or attempt.user is None:
        actor = form.user_id.data if attempt.known else "unknown"
        _trail().record("login_failed", actor, {"cause": attempt.outcome}, _where())
        if attempt.locked_now:
            _trail().record("user_locked", actor, {"cause": "failed_logins"}, _where())
        return render_template("console/login.html", form=form, failed=True), 401
    session.clear()  # a fresh session: nothing carried over from before sign-in
    login_user(SessionUser(attempt.user))
    session["seen"] = time.time()
    _trail().record("login", attempt.user.user_id, {"role": attempt.user.role}, _where())
    return redirect(url_for("console.fleet"))


@console.post("/logout")
def logout() -> BaseResponse:
    if current_user.is_authenticated:
        # The cookie is client-side: a copy of it would outlive clearing it here. Bumping the
        # user's epoch ends it in every worker and replica (C17), and with it the user's other
        # sessions: signing out means signing out everywhere.
        _users().end_sessions(_me().user_id)
        _trail().record("logout", _me().user_id, {}, _where())
    logout_user()
    session.clear()
    return redirect(url_for("console.login"))


@console.get("/<path:_rest>")
@requires()
def missing(_rest: str) -> tuple[str, int]:
    """Any other console address: the console's own 404 page (signed in only, so an anonymous
    client learns nothing from probing addresses)."""
    return _not_found()


@console.get("/")
@requires()
def home() -> BaseResponse:
    return redirect(url_for("console.fleet"))


@console.get("/fleet")
@requires()
def fleet() -> str:
    states = {state.kiosk_id: state for state in _kiosk_states().all()}
    # Three heartbeats missed: the kiosk or its line is down.
    stale_after = 3 * max(_settings().kiosk.heartbeat_seconds, 1)
    return render_template(
        "console/fleet.html",
        kiosks=_sources().fleet.kiosks(),
        states=states,
        now=time.time(),
        stale_after=stale_after,
    )


def _kiosk_states() -> KioskStates:
    states: KioskStates = _ext("kiosks")
    return states


@console.post("/fleet/<kiosk_id>/<action>")
@requires("admin")
def kiosk_action(kiosk_id: str, action: str) -> Any:
    if action not in ("enable", "disable"):
        return _not_found()
    try:
        _kiosk_states().set_enabled(kiosk_id, action == "enable", _me().user_id)
    except VaxcertError:
        return _not_found()
    _trail().record(f"kiosk_{action}d", _me().user_id, {"kiosk": kiosk_id}, _where())
    return redirect(url_for("console.fleet"))


@console.get("/health")
@requires()
def health() -> str:
    return render_template("console/health.html", view=_sources().health.health())


def _chart(title: str, buckets: list[Bucket], label: Callable[[Bucket], str]) -> Any:
    reasons = sorted({code for bucket in buckets for code in bucket.refusals})
    series = [(_("certificates"), [b.issued for b in buckets])]
    series += [(code, [b.refusals.get(code, 0) for b in buckets]) for code in reasons]
    return charts.bar_chart(title, [label(b) for b in buckets], series)


@console.get("/issuance")
@requires()
def issuance() -> str:
    view = _sources().tallies.issuance()
    municipalities = sorted({b.municipality for b in view.hourly + view.daily})
    chart_sets = []
    for code in municipalities:
        hourly = [b for b in view.hourly if b.municipality == code]
        daily = [b for b in view.daily if b.municipality == code]
        name = _municipality_name(code)
        chart_sets.append(
            (
                code,
                name,
                _chart(_("%(name)s per hour", name=name), hourly, lambda b: b.start.strftime("%H")),
                _chart(
                    _("%(name)s per day", name=name), daily, lambda b: b.start.strftime("%m-%d")
                ),
            )
        )
    return render_template("console/issuance.html", view=view, chart_sets=chart_sets)


def _municipality_name(code: str) -> str:
    if code == "all":
        return str(_("All municipalities"))
    for entry in _settings().center.municipalities:
        if entry.code == code:
            return entry.name_ja if g.get("console_lang") == "ja" else entry.name_en
    return code


@console.get("/fees")
@requires()
def fees() -> str:
    return render_template(
        "console/fees.html", rows=_sources().tallies.fees(), name=_municipality_name
    )


@console.get("/fees/<code>.csv")
@requires("admin", "auditor")
def fees_csv(code: str) -> Any:
    rows = [row for row in _sources().tallies.fees() if row.municipality == code]
    if not any(m.code == code for m in _settings().center.municipalities):
        return _not_found()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "date",
            "municipality",
            "certificates",
            "fee_yen",
            "expected_yen",
            "collected_yen",
            "refunded_misprints",
            "issued",
            "reconciled",
        ]
    )
    for row in rows:
        cells = [
            row.day.isoformat(),
            row.municipality,
            row.certificates,
            row.fee_yen,
            row.expected_yen,
            row.collected_yen,
            row.refunded,
            row.issued,
            "yes" if row.reconciled else "no",
        ]
        # Spreadsheets run a cell that starts like a formula: never from our export.
        writer.writerow([spreadsheet_safe(str(cell)) for cell in cells])
    _trail().record("fees_exported", _me().user_id, {"municipality": code}, _where())
    return Response(
        out.getvalue().encode("utf-8-sig"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="fees-{code}.csv"'},
    )


@console.get("/audit")
@requires("auditor")
def audit_page() -> str:
    daily: DailyRefusals = current_app.extensions["vaxcert_daily_refusals"]
    _trail().record("audit_viewed", _me().user_id, {}, _where())
    return render_template(
        "console/audit.html",
        entries=_trail().latest(200),
        problems=_trail().verify(),
        days=daily.closed_days(),
        threshold=daily.threshold,
    )
