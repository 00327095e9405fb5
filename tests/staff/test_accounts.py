"""Staff accounts fit for a public body: a backoff nobody can turn against the owner, equal
answers, password resets by email, changing one's own password, two-factor sign-in, sessions
that end everywhere, and keys that rotate without signing anyone out."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.exc import DatabaseError

from tests.helpers import (
    PASSWORD,
    form_values,
    form_with_button,
    links_in,
    page,
    path_of,
    press,
    sign_in,
    signed_in,
)
from tests.staff.test_audit import audit_log_refusing_writes
from updates import create_app, queues
from updates.config import load_config
from updates.extensions import db
from updates.models import AuditEvent, LoginBackoff, PasswordReset, RecoveryCode, StaffUser, utcnow
from updates.queues import Jobs
from updates.staff.accounts import add_staff, deactivate_staff, reactivate_staff
from updates.staff.signin import authenticate, wait_after

NEW_PASSWORD = "a brand new passphrase, long"
ELSEWHERE = "192.0.2.10"


@pytest.fixture
def staff(app) -> dict[str, int]:
    admin = add_staff("admin@example.org", "admin", PASSWORD)
    editor = add_staff("editor@example.org", "editor", PASSWORD)
    return {"admin": admin.id, "editor": editor.id}


def account(email: str) -> StaffUser:
    db.session.expire_all()
    return db.session.scalar(select(StaffUser).where(StaffUser.email == email))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def client_at(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def signed_out_to_login(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and "/admin/login" in response.headers["Location"]


# -- the backoff ---------------------------------------------------------------------------------


def test_the_wait_starts_after_five_failures_and_doubles_up_to_fifteen_minutes():
    waits = [wait_after(n).total_seconds() / 60 for n in range(1, 12)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 15, 15, 15]


def test_failures_from_elsewhere_never_keep_the_owner_out(app, staff):
    for _ in range(8):
        assert authenticate("editor@example.org", "guess", "203.0.113.9").staff is None
    assert authenticate("editor@example.org", PASSWORD, "203.0.113.9").wait_seconds > 0
    assert authenticate("editor@example.org", PASSWORD, ELSEWHERE).staff is not None


def test_an_unknown_address_is_backed_off_exactly_like_a_known_one(
    many_sign_ins_allowed, app, staff
):
    for address in ("editor@example.org", "nobody@example.org"):
        client = app.test_client()
        answers = [sign_in(client, address, "guess").status_code for _ in range(6)]
        assert answers == [401, 401, 401, 401, 401, 429], address


def test_once_the_wait_is_over_the_right_password_opens_the_account(app, staff):
    for _ in range(5):
        authenticate("editor@example.org", "guess", "127.0.0.1")
    assert sign_in(app.test_client(), "editor@example.org").status_code == 429
    db.session.execute(update(LoginBackoff).values(retry_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert sign_in(app.test_client(), "editor@example.org").status_code == 302
    assert db.session.scalars(select(LoginBackoff)).all() == []  # a sign-in forgets the failures


def test_the_backoff_stores_neither_the_address_nor_the_ip(app, staff):
    authenticate("editor@example.org", "guess", "203.0.113.9")
    [row] = db.session.scalars(select(LoginBackoff)).all()
    assert "editor" not in row.key and "203.0.113.9" not in row.key and len(row.key) == 64


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """The Argon2 verifications run, by the hash they checked against."""
    seen: list[str] = []
    original = PasswordHasher.verify

    def verify(self, hash, password):
        seen.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    return seen


def test_every_answer_runs_exactly_one_argon2_verification_of_the_same_cost(
    app, staff, verifications
):
    deactivate_staff(account("admin@example.org"), by=account("editor@example.org"))
    for _ in range(5):
        authenticate("backed@example.org", "guess", "127.0.0.1")
    add_staff("backed@example.org", "editor", PASSWORD)
    cases = {
        "unknown address": ("nobody@example.org", PASSWORD),
        "wrong password": ("editor@example.org", "guess"),
        "backed off": ("backed@example.org", PASSWORD),
        "deactivated": ("admin@example.org", PASSWORD),
        "right password": ("editor@example.org", PASSWORD),
    }
    for case, (email, password) in cases.items():
        verifications.clear()
        authenticate(email, password, "127.0.0.1")
        assert len(verifications) == 1, case
        parameters = verifications[0].rsplit("$", 2)[0]  # algorithm, version, memory, time, lanes
        assert parameters == account("editor@example.org").password_hash.rsplit("$", 2)[0], case


@pytest.mark.slow  # times some thirty sign-ins
def test_unknown_wrong_backed_off_and_deactivated_answers_take_the_same_time(
    many_sign_ins_allowed, app, staff
):
    deactivate_staff(account("admin@example.org"), by=account("editor@example.org"))
    add_staff("backed@example.org", "editor", PASSWORD)
    for _ in range(5):
        authenticate("backed@example.org", "guess", "127.0.0.1")
    cases = {
        "unknown address": ("nobody@example.org", PASSWORD),
        "wrong password": ("editor@example.org", "guess"),
        "backed off": ("backed@example.org", PASSWORD),
        "deactivated": ("admin@example.org", PASSWORD),
    }
    client = app.test_client()
    medians = {}
    for case, (email, password) in cases.items():
        times = []
        for _ in range(7):
            started = time.perf_counter()
            assert sign_in(client, email, password).status_code in (401, 429)
            times.append(time.perf_counter() - started)
        medians[case] = statistics.median(times)
    # Before, a locked account answered in 6 ms and the others in 140 ms: a factor of twenty.
    assert max(medians.values()) < 2 * min(medians.values()), medians


@pytest.fixture
def many_sign_ins_allowed(app_config):
    app_config["LOGIN_LIMIT_PER_IP"] = "1000/minute"
    app_config["PASSWORD_HASHING"] = "recommended"  # timed as in production


# -- where signing in returns to -----------------------------------------------------------------


def sign_in_returning_to(client, target: str):
    values = form_values(page(client.get("/admin/login")).find("form", method="post"))
    values.update(email="editor@example.org", password=PASSWORD)
    return client.post("/admin/login", query_string={"next": target}, data=values)


def test_signing_in_returns_to_the_console_page_asked_for(app, staff):
    response = sign_in_returning_to(app.test_client(), "/admin/updates?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/updates?page=2"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/admin",
        "//evil.example/admin",
        "/admin\\@evil.example",
        "/\\evil.example",
        "/admin/\r\nSet-Cookie: taken=1",
        "/admin/\nx",
        "/admin/\u2603",
        "/admin/caf\u00e9",
        "/admin/\x00",
        "javascript:alert(1)",
        "/elsewhere",
        "/admin" + "x" * 5000,
    ],
)
def test_a_next_that_is_not_a_plain_console_path_is_never_followed_nor_an_error(app, staff, target):
    response = sign_in_returning_to(app.test_client(), target)
    assert response.status_code in (302, 400)  # control characters may be refused at the edge
    if response.status_code == 302:
        assert response.headers["Location"] == "/admin/"


# -- sessions ------------------------------------------------------------------------------------


def copy_of(app, client):
    """Another client holding the same session cookie, as a thief with a copy would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_signing_out_ends_every_copy_of_the_session(app, staff):
    editor = signed_in(app, "editor")
    thief = copy_of(app, editor)
    assert thief.get("/admin/").status_code == 200
    assert press(editor, "/admin/", f"Sign out {'editor@example.org'}").status_code == 302
    assert signed_out_to_login(thief)
    assert signed_out_to_login(editor)


def test_reactivating_an_account_revives_none_of_its_old_sessions(app, staff):
    editor = signed_in(app, "editor")
    deactivate_staff(account("editor@example.org"), by=account("admin@example.org"))
    assert signed_out_to_login(editor)
    reactivate_staff(account("editor@example.org"))
    assert signed_out_to_login(editor)
    assert sign_in(app.test_client(), "editor@example.org").status_code == 302


def test_secret_key_fallbacks_come_from_the_rest_of_the_secret_key_list(tmp_path: Path):
    config = load_config(tmp_path, {"UPDATES_ENV": "test", "SECRET_KEY": "new, old ,older"})
    assert config["SECRET_KEY"] == "new"
    assert config["SECRET_KEY_FALLBACKS"] == ["old", "older"]


def app_with_keys(app_config, tmp_path: Path, keys: list[str]):
    """The app as an operator would start it with SECRET_KEY set to this list."""
    env = {"UPDATES_ENV": "test", "SECRET_KEY": ",".join(keys)}
    secrets = {k: v for k, v in load_config(tmp_path, env).items() if k.startswith("SECRET_KEY")}
    return create_app({**app_config, **secrets})


def test_rotating_the_secret_key_keeps_staff_signed_in(app_config, tmp_path, app, staff):
    def app_with(keys: list[str]):
        return app_with_keys(app_config, tmp_path, keys)

    before = app_with(["old-key"]).test_client()
    assert sign_in(before, "editor@example.org").status_code == 302
    cookie = before.get_cookie("session").value
    for keys, signed_in_still in ((["new-key", "old-key"], True), (["new-key"], False)):
        after = app_with(keys).test_client()
        after.set_cookie("session", cookie)
        assert (after.get("/admin/").status_code == 200) is signed_in_still, keys


# -- forgotten passwords -------------------------------------------------------------------------


def ask_for_a_reset(client, address: str):
    login = page(client.get("/admin/login"))
    forgot = login.find("a", string="Forgot your password?")["href"]
    return press(client, forgot, "Email me a link", email=address)


def reset_link(mail_server, address: str) -> str:
    [message] = mail_server.messages_to(address)
    [link] = [link for link in links_in(message) if "/admin/reset/" in link]
    return link


def visible_text(response) -> str:
    return " ".join(page(response).get_text().split())


def test_a_forgotten_password_is_reset_through_a_link_a_worker_emails(
    app, staff, run_jobs, mail_server
):
    client = app.test_client()
    answer = ask_for_a_reset(client, "Editor@Example.org")
    assert answer.status_code == 200 and "Check your email" in visible_text(answer)
    assert mail_server.messages_to("editor@example.org") == []  # the web never talks SMTP
    run_jobs()
    link = reset_link(mail_server, "editor@example.org")
    assert link.startswith("https://updates.example.org/admin/reset/")
    response = press(
        client, path_of(link), "Set my new password", password=NEW_PASSWORD, confirm=NEW_PASSWORD
    )
    assert response.status_code == 303
    assert sign_in(app.test_client(), "editor@example.org", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "editor@example.org", NEW_PASSWORD).status_code == 302
    assert audit_actions() == ["password reset by email link"]


def test_asking_for_a_reset_answers_the_same_whether_or_not_the_address_has_an_account(
    app, staff, run_jobs, mail_server
):
    deactivate_staff(account("admin@example.org"), by=account("editor@example.org"))
    answers = {
        address: ask_for_a_reset(app.test_client(), address)
        for address in ("editor@example.org", "nobody@example.org", "admin@example.org")
    }
    assert {a.status_code for a in answers.values()} == {200}
    assert len({visible_text(a) for a in answers.values()}) == 1
    assert db.session.scalar(select(db.func.count()).select_from(PasswordReset)) == 3
    run_jobs()
    assert len(mail_server.messages_to("editor@example.org")) == 1
    assert mail_server.messages_to("nobody@example.org") == []
    assert mail_server.messages_to("admin@example.org") == []  # deactivated


def test_a_reset_link_works_once(app, staff, run_jobs, mail_server):
    ask_for_a_reset(app.test_client(), "editor@example.org")
    run_jobs()
    path = path_of(reset_link(mail_server, "editor@example.org"))
    client = app.test_client()
    values = form_values(form_with_button(page(client.get(path)), "Set my new password"))
    values.update(password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert client.post(path, data=values).status_code == 303
    assert client.get(path).status_code == 404
    values.update(password="yet another password", confirm="yet another password")
    assert client.post(path, data=values).status_code == 404
    assert sign_in(app.test_client(), "editor@example.org", NEW_PASSWORD).status_code == 302


def test_a_reset_link_dies_an_hour_after_it_was_asked_for(app, staff, run_jobs, mail_server):
    ask_for_a_reset(app.test_client(), "editor@example.org")
    run_jobs()
    path = path_of(reset_link(mail_server, "editor@example.org"))
    db.session.execute(update(PasswordReset).values(created_at=utcnow() - timedelta(minutes=61)))
    db.session.commit()
    response = app.test_client().get(path)
    assert response.status_code == 404 and "Ask for a new link" in visible_text(response)


def test_using_one_link_spends_every_other_the_account_was_sent(app, staff, run_jobs, mail_server):
    for _ in range(2):
        ask_for_a_reset(app.test_client(), "editor@example.org")
        run_jobs()
        db.session.execute(update(PasswordReset).values(sent_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    first, second = (
        path_of(next(u for u in links_in(m) if "/admin/reset/" in u))
        for m in mail_server.messages_to("editor@example.org")
    )
    client = app.test_client()
    press(client, second, "Set my new password", password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert client.get(first).status_code == 404


def test_asking_again_and_again_sends_one_email_a_minute(app, staff, run_jobs, mail_server):
    for _ in range(4):
        ask_for_a_reset(app.test_client(), "editor@example.org")
    run_jobs()
    assert len(mail_server.messages_to("editor@example.org")) == 1


def test_a_reset_email_redis_lost_is_sent_by_the_sweeper(
    app, staff, run_jobs, mail_server, redis_url
):
    ask_for_a_reset(app.test_client(), "editor@example.org")
    Redis.from_url(redis_url).flushdb()  # the job is gone; the row remains
    run_jobs()
    assert mail_server.messages_to("editor@example.org") == []
    assert queues.try_enqueue(queues.MAIL, Jobs.SWEEP_STAFF_SIGN_IN)
    run_jobs()
    assert len(mail_server.messages_to("editor@example.org")) == 1


@pytest.mark.parametrize("token", ["nonsense", "x" * 400, "W1sxXV0.aaaa.bbbb", "%00", "\u2603"])
def test_a_made_up_reset_link_is_a_4xx(app, staff, token):
    assert app.test_client().get(f"/admin/reset/{token}").status_code in (400, 404)


def test_a_reset_is_asked_for_with_a_well_formed_address_only(app, staff):
    response = ask_for_a_reset(app.test_client(), "not an address")
    assert response.status_code == 400
    assert db.session.scalars(select(PasswordReset)).all() == []


# -- one's own password ---------------------------------------------------------------------------


def test_an_editor_changes_their_own_password_with_the_current_one(app, staff):
    elsewhere = signed_in(app, "editor")
    editor = signed_in(app, "editor")
    wrong = press(
        editor,
        "/admin/account",
        "Change my password",
        current="not it at all",
        password=NEW_PASSWORD,
        confirm=NEW_PASSWORD,
    )
    assert wrong.status_code == 400 and "not your current password" in visible_text(wrong)
    right = press(
        editor,
        "/admin/account",
        "Change my password",
        current=PASSWORD,
        password=NEW_PASSWORD,
        confirm=NEW_PASSWORD,
    )
    assert right.status_code == 303
    assert editor.get("/admin/").status_code == 200  # this session goes on
    assert signed_out_to_login(elsewhere)  # the others end
    assert sign_in(app.test_client(), "editor@example.org", NEW_PASSWORD).status_code == 302
    assert audit_actions() == ["password changed"]


def test_guesses_at_ones_current_password_are_rate_limited(app, staff):
    app.config["LOGIN_LIMIT_PER_IP"] = "3/minute"
    editor = signed_in(app, "editor")
    answers = [
        press(
            editor,
            "/admin/account",
            "Change my password",
            current=f"guess {n}",
            password=NEW_PASSWORD,
            confirm=NEW_PASSWORD,
        ).status_code
        for n in range(6)
    ]
    # Past the limit they are refused; a Redis too slow under load may let one more through.
    assert answers[:3] == [400, 400, 400] and answers[-1] == 429


# -- two-factor ----------------------------------------------------------------------------------


def totp_secret_on_page(client) -> str:
    html = page(client.get("/admin/account/two-factor"))
    assert html.find("svg") is not None  # the QR code, drawn here: no outside service
    return html.find("code").get_text()


def next_code(email: str, secret: str) -> str:
    """A code for the step after the last one accepted (the window allows one step ahead)."""
    last = account(email).totp_last_step
    step = int(time.time()) // 30 if last is None else last + 1
    return pyotp.TOTP(secret).generate_otp(step)


def enrol(client, email: str) -> tuple[str, list[str]]:
    press(client, "/admin/account/two-factor", "Set up two-factor", current=PASSWORD)
    secret = totp_secret_on_page(client)
    response = press(
        client, "/admin/account/two-factor", "Turn on two-factor", code=next_code(email, secret)
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    codes = [c.get_text() for c in page(response).select(".recovery-codes code")]
    return secret, codes


def test_setting_up_two_factor_asks_for_the_password(app, staff):
    editor = signed_in(app, "editor")
    press(editor, "/admin/account/two-factor", "Set up two-factor", current="someone else's")
    assert account("editor@example.org").totp_secret is None


def test_an_editor_turns_on_two_factor_and_then_signs_in_with_a_code(app, staff):
    editor = signed_in(app, "editor")
    secret, codes = enrol(editor, "editor@example.org")
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = account("editor@example.org")
    assert secret not in (stored.totp_secret or "")  # encrypted at rest
    hashes = list(db.session.scalars(select(RecoveryCode.code_hash)))
    assert len(hashes) == 10 and not set(codes) & set(hashes)

    client = app.test_client()
    response = sign_in(client, "editor@example.org")
    assert response.headers["Location"] == "/admin/login/code"
    assert signed_out_to_login(client)  # the password alone opens nothing
    assert press(client, "/admin/login/code", "Sign in", code="000000").status_code == 401
    code = next_code("editor@example.org", secret)
    assert press(client, "/admin/login/code", "Sign in", code=code).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert audit_actions() == ["two-factor turned on"]

    again = app.test_client()
    sign_in(again, "editor@example.org")
    assert press(again, "/admin/login/code", "Sign in", code=code).status_code == 401  # used


def test_a_recovery_code_signs_in_once(app, staff):
    _, codes = enrol(signed_in(app, "editor"), "editor@example.org")
    first = app.test_client()
    sign_in(first, "editor@example.org")
    assert press(first, "/admin/login/code", "Sign in", code=codes[0].lower()).status_code == 302
    second = app.test_client()
    sign_in(second, "editor@example.org")
    assert press(second, "/admin/login/code", "Sign in", code=codes[0]).status_code == 401
    assert audit_actions()[-1] == "signed in with a recovery code"


def test_wrong_codes_count_towards_the_same_backoff(app, staff):
    enrol(signed_in(app, "editor"), "editor@example.org")
    client = app.test_client()
    sign_in(client, "editor@example.org")
    answers = [
        press(client, "/admin/login/code", "Sign in", code="123456").status_code for _ in range(6)
    ]
    assert answers == [401, 401, 401, 401, 401, 429]


def test_new_recovery_codes_need_the_password_and_replace_the_old(app, staff):
    editor = signed_in(app, "editor")
    _, old = enrol(editor, "editor@example.org")
    path = "/admin/account/two-factor"
    refused = press(editor, path, "Replace my recovery codes", current="wrong")
    assert refused.status_code == 303
    assert len(db.session.scalars(select(RecoveryCode)).all()) == 10
    response = press(editor, path, "Replace my recovery codes", current=PASSWORD)
    new = [c.get_text() for c in page(response).select(".recovery-codes code")]
    assert len(new) == 10 and not set(new) & set(old)
    client = app.test_client()
    sign_in(client, "editor@example.org")
    assert press(client, "/admin/login/code", "Sign in", code=old[1]).status_code == 401
    assert press(client, "/admin/login/code", "Sign in", code=new[1]).status_code == 302
    assert "recovery codes replaced" in audit_actions()


def test_turning_two_factor_off_needs_the_password(app, staff):
    editor = signed_in(app, "editor")
    enrol(editor, "editor@example.org")
    press(editor, "/admin/account/two-factor", "Turn off two-factor", current="wrong")
    assert account("editor@example.org").has_two_factor
    press(editor, "/admin/account/two-factor", "Turn off two-factor", current=PASSWORD)
    assert not account("editor@example.org").has_two_factor
    assert db.session.scalars(select(RecoveryCode)).all() == []
    assert sign_in(app.test_client(), "editor@example.org").headers["Location"] == "/admin/"
    assert audit_actions() == ["two-factor turned on", "two-factor turned off"]


def test_an_admin_turns_off_someones_two_factor_only_after_confirming(app, staff):
    enrol(signed_in(app, "editor"), "editor@example.org")
    admin = signed_in(app, "admin")
    staff_page = page(admin.get("/admin/staff"))
    confirm_path = staff_page.find("a", string="Turn off")["href"]
    assert account("editor@example.org").has_two_factor  # opening the page changed nothing
    response = press(admin, confirm_path, "Turn off two-factor for editor@example.org")
    assert response.status_code == 303
    assert not account("editor@example.org").has_two_factor
    assert audit_actions()[-1] == "two-factor turned off for"


def test_an_editor_cannot_turn_off_anyones_two_factor(app, staff):
    enrol(signed_in(app, "admin"), "admin@example.org")
    editor = signed_in(app, "editor")
    path = f"/admin/staff/{staff['admin']}/two-factor/off"
    assert editor.get(path).status_code == 403
    token = form_values(page(editor.get("/admin/")).find("form", method="post"))["csrf_token"]
    assert editor.post(path, data={"csrf_token": token}).status_code == 403
    assert account("admin@example.org").has_two_factor


@pytest.fixture
def two_factor_required(app_config):
    app_config["STAFF_REQUIRE_2FA"] = True


def test_an_admin_without_two_factor_sets_it_up_before_anything_else(
    two_factor_required, app, staff
):
    admin = signed_in(app, "admin")
    for path in ("/admin/", "/admin/staff", "/admin/account"):
        response = admin.get(path)
        if path == "/admin/account":
            assert response.status_code == 200  # their own account page stays open
            continue
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/admin/account/two-factor"
    assert signed_in(app, "editor").get("/admin/").status_code == 200  # editors choose
    enrol(admin, "admin@example.org")
    assert admin.get("/admin/staff").status_code == 200
    assert "Turn off two-factor" not in visible_text(admin.get("/admin/account/two-factor"))


def test_a_two_factor_secret_sealed_under_an_old_key_works_after_rotation(
    app_config, tmp_path, app, staff
):
    client = app_with_keys(app_config, tmp_path, ["old"]).test_client()
    assert sign_in(client, "editor@example.org").status_code == 302
    secret, _ = enrol(client, "editor@example.org")
    sealed = account("editor@example.org").totp_secret
    client = app_with_keys(app_config, tmp_path, ["new", "old"]).test_client()
    sign_in(client, "editor@example.org")
    code = next_code("editor@example.org", secret)
    assert press(client, "/admin/login/code", "Sign in", code=code).status_code == 302
    assert account("editor@example.org").totp_secret != sealed  # sealed again, under "new"


# -- audit ---------------------------------------------------------------------------------------


def test_a_password_change_whose_audit_row_cannot_be_written_does_not_happen(app, staff):
    editor = signed_in(app, "editor")
    with audit_log_refusing_writes(), pytest.raises(DatabaseError):
        press(
            editor,
            "/admin/account",
            "Change my password",
            current=PASSWORD,
            password=NEW_PASSWORD,
            confirm=NEW_PASSWORD,
        )
    assert sign_in(app.test_client(), "editor@example.org", PASSWORD).status_code == 302


def test_two_factor_whose_audit_row_cannot_be_written_stays_off(app, staff):
    editor = signed_in(app, "editor")
    press(editor, "/admin/account/two-factor", "Set up two-factor", current=PASSWORD)
    secret = totp_secret_on_page(editor)
    code = next_code("editor@example.org", secret)
    with audit_log_refusing_writes(), pytest.raises(DatabaseError):
        press(editor, "/admin/account/two-factor", "Turn on two-factor", code=code)
    assert not account("editor@example.org").has_two_factor
    assert db.session.scalars(select(RecoveryCode)).all() == []
