"""Connection reuse: many messages over few connections, each recipient exactly once.

Real loopback servers count what a gateway sees: TCP connections (SMSEagle over
HTTP) and SMTP sessions (aiosmtpd). A server that hangs up mid-session costs a
retry, never a lost or a doubled message.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from fixtures_notify import ENV, build_env

from incident.notify import reuse
from incident.notify.send import SENT, TEMPORARY, send_one

N = 60
THREADS = 4


def _burst(urls: list[str]) -> list:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda u: send_one(u, "Water off", "停水至18:00", deadline=10),
                             urls))


def test_requests_post_goes_through_one_session_per_thread():
    """Fails when Apprise or requests change the way our hook sees their calls."""
    assert reuse.http_session_reused()


def test_sms_burst_reuses_keep_alive_connections(smseagle):
    smseagle.reset()
    phones = [f"+86139{i:08d}" for i in range(N)]
    urls = [f"smseagle://{ENV['SMSEAGLE_TOKEN']}@127.0.0.1:{smseagle.port}/{p}" for p in phones]
    out = _burst(urls)
    assert [o.status for o in out] == [SENT] * N
    assert smseagle.count_by_to() == Counter({p: 1 for p in phones})
    assert smseagle.connections <= 2 * THREADS  # not one per message


def test_email_burst_reuses_smtp_sessions_with_one_result_per_recipient(smtp):
    smtp.unknown = {"nobody@example.com"}
    smtp.reset()
    rcpts = [f"owner{i:04d}@example.com" for i in range(N)] + ["nobody@example.com"]
    urls = [f"mailto://127.0.0.1:{smtp.port}/{r}?from=noreply%40estate.test&mode=insecure"
            for r in rcpts]
    out = _burst(urls)
    by = dict(zip(rcpts, out, strict=True))
    assert by["nobody@example.com"].status == "failed_permanent"
    assert "550" in by["nobody@example.com"].error
    assert all(by[r].status == SENT for r in rcpts[:-1])
    assert smtp.count_by_to() == Counter({r: 1 for r in rcpts[:-1]})
    assert smtp.sessions <= 2 * THREADS


def test_a_session_the_server_closed_before_the_message_is_replaced_at_once(smtp):
    """Hang-up at MAIL: nothing was handed over, so the same send goes on a new session."""
    smtp.reset()
    smtp.faults.drop_connections_after(3, at="mail")
    rcpts = [f"owner{i:04d}@example.com" for i in range(N)]
    urls = [f"mailto://127.0.0.1:{smtp.port}/{r}?from=noreply%40estate.test&mode=insecure"
            for r in rcpts]
    out = _burst(urls)
    assert [o.status for o in out] == [SENT] * N
    assert smtp.count_by_to() == Counter({r: 1 for r in rcpts})
    assert N // 3 <= smtp.sessions < N


def test_a_hang_up_after_the_message_is_a_temporary_failure_not_a_resend(smtp):
    """Hang-up after DATA: the message may be on the server, so it is not re-sent at once
    (the dispatcher's retry decides, see the dispatcher test below)."""
    smtp.reset()
    smtp.faults.drop_connections_after(2, at="data")
    rcpts = [f"owner{i:04d}@example.com" for i in range(12)]
    urls = [f"mailto://127.0.0.1:{smtp.port}/{r}?from=noreply%40estate.test&mode=insecure"
            for r in rcpts]
    with ThreadPoolExecutor(1) as pool:
        out = list(pool.map(lambda u: send_one(u, "t", "b", deadline=10), urls))
    assert [o.status for o in out] == [SENT, SENT, TEMPORARY] * 4
    assert sum(smtp.count_by_to().values()) == 8


def test_dropped_connections_cost_retries_never_a_lost_or_double_message(
        tmp_path, db_url, smtp, smseagle):
    env = build_env(tmp_path, db_url, owners=N, smtp=smtp, sms=smseagle, concurrency=4,
                    retries=8)
    try:
        smtp.faults.drop_connections_after(6, at="data")
        smseagle.faults.drop_connections_after(6)
        iid = env.start()
        env.engine.act(iid, "tell_all_sms", actor="night.officer")
        env.engine.act(iid, "tell_all_email", actor="night.officer")
        d = env.dispatcher(processes=0)
        first = d.run_until_idle()
        assert first.retrying > 0  # the hang-ups were seen
        for _ in range(10):
            env.clock.advance("1h")
            d.run_until_idle()
        rows = env.store.outbox_rows(iid)
        assert rows and all(r.state == "sent" for r in rows)
        phones = [r.address for r in rows if r.channel == "sms"]
        mails = [r.address for r in rows if r.channel == "email"]
        assert smseagle.count_by_to() == Counter({p: 1 for p in phones})
        assert smtp.count_by_to() == Counter({m: 1 for m in mails})
        assert smtp.sessions < len(mails) and smseagle.connections < len(phones) * 2
    finally:
        env.store.close()


def test_a_logged_in_session_serves_only_its_own_login():
    """The kept session is keyed by the login: a changed password never rides on the
    session the old one opened, and a refused login is reported for each message."""
    from servers import SmtpServer

    with SmtpServer(login=("noreply@estate.test", "s3cret/#?")) as smtp:
        smtp.reset()

        def url(word: str, rcpt: str) -> str:
            return (f"mailto://noreply%40estate.test:{word}@127.0.0.1:{smtp.port}/{rcpt}"
                    "?from=noreply%40estate.test&mode=insecure")

        good = [url("s3cret%2F%23%3F", f"owner{i:04d}@example.com") for i in range(20)]
        bad = [url("wrong", f"late{i:04d}@example.com") for i in range(3)]
        with ThreadPoolExecutor(1) as pool:
            out = list(pool.map(lambda u: send_one(u, "t", "b", deadline=10), good + bad))
        assert [o.status for o in out[:20]] == [SENT] * 20
        assert all(o.status == "failed_permanent" and "SMTP 535" in o.error for o in out[20:])
        assert smtp.count_by_to() == Counter(f"owner{i:04d}@example.com" for i in range(20))
        assert smtp.sessions <= 1 + 3  # one logged-in session, then one per refused login
