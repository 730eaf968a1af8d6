"""mmchat.known_hosts: the trust rule (no I/O), the known hosts file, and the verifier ChatClient calls."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from mmchat import known_hosts
from mmchat.address import Address, parse_address
from mmchat.client_socket import ConnectError
from mmchat.fingerprints import fingerprint_of
from mmchat.known_hosts import (
    BUTTON_HINT,
    FLAG_HINT,
    Decision,
    KnownHosts,
    Verdict,
    connect_verified,
    decide,
    host_key,
    make_verifier,
)
from mmchat.protocol import RefusalKind

OLD = fingerprint_of(b"the host's first certificate")
NEW = fingerprint_of(b"the certificate someone else shows")
WHERE = "192.168.1.5:12002"


# --- the rule ---------------------------------------------------------------------------------------


def test_a_new_host_without_an_invite_is_asked_about() -> None:
    decision = decide(WHERE, OLD, "", None, accept_new_key=False)
    assert decision == Decision(Verdict.FIRST_USE, WHERE, OLD)


def test_a_known_host_showing_the_same_key_is_trusted_in_any_spelling() -> None:
    decision = decide(WHERE, OLD.replace(":", "").lower(), "", OLD, accept_new_key=False)
    assert decision.verdict is Verdict.TRUSTED
    assert decision.presented == OLD
    assert not decision.remember  # nothing to write


def test_a_changed_key_is_refused_with_both_fingerprints() -> None:
    decision = decide(WHERE, NEW, "", OLD, accept_new_key=False)
    assert (decision.verdict, decision.known, decision.presented) == (Verdict.CHANGED, OLD, NEW)
    assert not decision.remember


def test_accept_new_key_trusts_a_changed_key_and_replaces_it() -> None:
    decision = decide(WHERE, NEW, "", OLD, accept_new_key=True)
    assert (decision.verdict, decision.remember, decision.known) == (Verdict.TRUSTED, True, OLD)


def test_an_invite_that_matches_is_trusted_and_remembered_even_on_first_use() -> None:
    decision = decide(WHERE, OLD, OLD.lower(), None, accept_new_key=False)
    assert (decision.verdict, decision.remember, decision.invite) == (Verdict.TRUSTED, True, OLD)
    again = decide(WHERE, OLD, OLD, OLD, accept_new_key=False)
    assert again.verdict is Verdict.TRUSTED and not again.remember


def test_an_invite_that_matches_a_new_key_replaces_the_old_one() -> None:
    # The invite came from the host itself: it is the proof the changed key is the host's.
    decision = decide(WHERE, NEW, NEW, OLD, accept_new_key=False)
    assert (decision.verdict, decision.remember) == (Verdict.TRUSTED, True)


@pytest.mark.parametrize("known", [None, OLD])
@pytest.mark.parametrize("accept_new_key", [False, True])
def test_an_invite_that_does_not_match_is_refused_whatever_else_holds(known: str | None, accept_new_key: bool) -> None:
    decision = decide(WHERE, NEW, OLD, known, accept_new_key)
    assert (decision.verdict, decision.invite, decision.presented) == (Verdict.INVITE_MISMATCH, OLD, NEW)


def test_a_garbled_invite_fingerprint_is_a_mismatch_not_a_crash() -> None:
    decision = decide(WHERE, OLD, "not-a-fingerprint", None, accept_new_key=False)
    assert decision.verdict is Verdict.INVITE_MISMATCH
    assert decision.invite == "not-a-fingerprint"


def test_a_host_fingerprint_that_is_not_one_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        decide(WHERE, "garbage", "", None, accept_new_key=False)


@pytest.mark.parametrize(
    ("host", "port", "key"),
    [
        ("Desk-7.LOCAL", 12002, "desk-7.local:12002"),
        ("192.168.1.5", 1, "192.168.1.5:1"),
        ("2001:DB8:0::7", 12002, "[2001:db8::7]:12002"),
        ("[fe80::1%eth0]", 5, "[fe80::1%eth0]:5"),
    ],
)
def test_host_key_spells_one_address_one_way(host: str, port: int, key: str) -> None:
    assert host_key(host, port) == key


# --- the file -----------------------------------------------------------------------------------------


def test_the_file_lives_in_the_member_config_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MMCHAT_CONFIG_DIR", str(tmp_path / "cfg"))
    assert KnownHosts().path == tmp_path / "cfg" / "known_hosts"


def test_round_trip_one_line_per_host(tmp_path: Path) -> None:
    store = KnownHosts(tmp_path / "cfg" / "known_hosts")
    assert store.get(WHERE) is None
    store.remember(WHERE, OLD.lower())
    store.remember("[2001:db8::7]:12002", NEW)
    assert store.get(WHERE) == OLD
    assert KnownHosts(store.path).entries() == {WHERE: OLD, "[2001:db8::7]:12002": NEW}
    lines = store.path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == [f"{WHERE} {OLD}", f"[2001:db8::7]:12002 {NEW}"]
    assert store.problems == []


def test_two_ports_on_one_host_are_two_entries(tmp_path: Path) -> None:
    store = KnownHosts(tmp_path / "known_hosts")
    store.remember("192.168.1.5:12002", OLD)
    store.remember("192.168.1.5:12003", NEW)
    assert store.get("192.168.1.5:12002") == OLD
    assert store.get("192.168.1.5:12003") == NEW


def test_remember_replaces_the_entry_and_keeps_the_others(tmp_path: Path) -> None:
    store = KnownHosts(tmp_path / "known_hosts")
    store.remember(WHERE, OLD)
    store.remember("other:1", OLD)
    store.remember(WHERE, NEW)
    assert store.entries() == {WHERE: NEW, "other:1": OLD}
    assert store.path.read_text(encoding="utf-8").count(WHERE) == 1


def test_a_damaged_file_is_a_sentence_and_its_lines_survive_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    damaged = b"# mine\ngarbage here and there\n\xff\xfe binary\nhost-only " + OLD.encode() + b"\n"
    path.write_bytes(damaged + f"{WHERE} {OLD}\n".encode())
    store = KnownHosts(path)
    assert store.get(WHERE) == OLD
    assert len(store.problems) == 3
    assert store.problems[0] == (
        f"Line 2 of the known hosts file {path} is damaged (it should read HOST:PORT FINGERPRINT), so it was ignored."
    )
    store.remember("other:1", NEW)
    assert path.read_bytes() == damaged + f"{WHERE} {OLD}\nother:1 {NEW}\n".encode()


def test_a_file_that_cannot_be_read_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.mkdir()  # reading a folder fails, as an unreadable file would (also for root)
    store = KnownHosts(path)
    assert store.get(WHERE) is None
    assert store.problems and store.problems[0].startswith(f"The known hosts file {path} cannot be read")
    with pytest.raises(OSError, match="cannot be read, so it is left as it is"):
        store.remember(WHERE, OLD)
    assert path.is_dir()


def test_the_write_is_atomic_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    store = KnownHosts(tmp_path / "known_hosts")
    store.remember(WHERE, OLD)
    before = store.path.read_bytes()
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        renames.append((str(src), str(dst)))
        assert Path(src).read_bytes().endswith(f"other:1 {NEW}\n".encode())  # complete before the rename
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(known_hosts.os, "replace", failing_replace)
    with pytest.raises(OSError):
        store.remember("other:1", NEW)
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["known_hosts"]
    assert renames and Path(renames[0][0]).parent == tmp_path and renames[0][1] == str(store.path)
    monkeypatch.setattr(known_hosts.os, "replace", real_replace)
    store.remember("other:1", NEW)
    assert store.get("other:1") == NEW


# --- the verifier -------------------------------------------------------------------------------------


class Asker:
    """An `ask` that answers as told and remembers what it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[Decision] = []

    def __call__(self, decision: Decision) -> bool:
        self.asked.append(decision)
        return self.answer


def verifier_for(tmp_path: Path, where: str = WHERE, answer: bool = True, accept_new_key: bool = False, **kw):
    store = KnownHosts(tmp_path / "known_hosts")
    ask, told = Asker(answer), []
    verify = make_verifier(parse_address(where), store, ask, accept_new_key, tell=told.append, **kw)
    return verify, store, ask, told


def test_first_use_trusted_by_the_person_is_saved_and_not_asked_again(tmp_path: Path) -> None:
    verify, store, ask, told = verifier_for(tmp_path)
    verify(OLD)
    assert [d.verdict for d in ask.asked] == [Verdict.FIRST_USE]
    assert verify.asked and verify.refused is None
    assert store.get(WHERE) == OLD
    assert told == []  # the front end said what it did when it asked
    verify(OLD)
    assert len(ask.asked) == 1


def test_first_use_refused_by_the_person_is_a_connect_error_and_saves_nothing(tmp_path: Path) -> None:
    verify, store, ask, _ = verifier_for(tmp_path, answer=False)
    with pytest.raises(ConnectError, match=f"You did not trust the host at {WHERE}, so mmchat did not connect."):
        verify(OLD)
    assert [d.verdict for d in ask.asked] == [Verdict.FIRST_USE]
    assert not store.path.exists()
    assert not verify.asked


def test_a_changed_key_raises_with_both_fingerprints_and_the_flag(tmp_path: Path) -> None:
    verify, store, ask, _ = verifier_for(tmp_path, answer=False)
    store.remember(WHERE, OLD)
    with pytest.raises(ConnectError) as refused:
        verify(NEW)
    text = str(refused.value)
    assert OLD in text and NEW in text
    assert text.endswith(f"If the person running the host confirms the new fingerprint, {FLAG_HINT}.")
    assert "--accept-new-key" in text
    assert [d.verdict for d in ask.asked] == [Verdict.CHANGED]
    assert verify.refused == ask.asked[0]  # the front end can tell a refused key from a failed connection
    assert store.get(WHERE) == OLD  # still the old key


def test_the_window_names_its_button_when_it_refuses_a_changed_key(tmp_path: Path) -> None:
    verify, store, _, _ = verifier_for(tmp_path, answer=False, how_to_accept=BUTTON_HINT)
    store.remember(WHERE, OLD)
    with pytest.raises(ConnectError, match="Accept the new key"):
        verify(NEW)


def test_a_changed_key_accepted_in_the_dialog_replaces_the_entry(tmp_path: Path) -> None:
    verify, store, _, told = verifier_for(tmp_path, answer=True)
    store.remember(WHERE, OLD)
    verify(NEW)
    assert store.get(WHERE) == NEW
    assert told == [
        f"Trusted the host at {WHERE} (you accepted its new key, which replaces the one you trusted before); "
        f"its fingerprint is saved in {store.path}."
    ]


def test_accept_new_key_replaces_the_entry_without_asking(tmp_path: Path) -> None:
    verify, store, ask, told = verifier_for(tmp_path, answer=False, accept_new_key=True)
    store.remember(WHERE, OLD)
    verify(NEW)
    assert ask.asked == []
    assert store.get(WHERE) == NEW
    assert "replaces the one you trusted before" in told[0]


def test_a_forged_invite_is_refused_without_asking_even_with_accept_new_key(tmp_path: Path) -> None:
    verify, store, ask, _ = verifier_for(tmp_path, f"mmchat://{WHERE}/#{OLD}", accept_new_key=True)
    with pytest.raises(ConnectError) as refused:
        verify(NEW)
    text = str(refused.value)
    assert text.startswith(f"The host at {WHERE} is not the one the invite names, so mmchat did not connect")
    assert OLD in text and NEW in text
    assert ask.asked == []
    assert verify.refused is not None and verify.refused.verdict is Verdict.INVITE_MISMATCH
    assert not store.path.exists()


def test_a_matching_invite_is_trusted_without_asking_and_remembered(tmp_path: Path) -> None:
    verify, store, ask, told = verifier_for(tmp_path, f"mmchat://{WHERE}/#{OLD.replace(':', '').lower()}")
    verify(OLD)
    assert ask.asked == []
    assert store.get(WHERE) == OLD
    assert "the invite's fingerprint matches its key" in told[0]
    # Later joins by the bare address know the host.
    bare, _, bare_ask, _ = verifier_for(tmp_path)
    bare(OLD)
    assert bare_ask.asked == []


def test_a_damaged_file_is_told_and_the_join_goes_on(tmp_path: Path) -> None:
    verify, store, _, told = verifier_for(tmp_path)
    store.path.write_text("this is not a known hosts line\n", encoding="utf-8")
    verify(OLD)
    assert told and "is damaged" in told[0]
    assert store.get(WHERE) == OLD


def test_a_key_that_cannot_be_saved_is_told_and_the_join_goes_on(tmp_path: Path) -> None:
    store = KnownHosts(tmp_path / "known_hosts")
    store.path.mkdir()
    told: list[str] = []
    verify = make_verifier(Address("192.168.1.5", 12002), store, Asker(True), tell=told.append)
    verify(OLD)  # no exception: the person trusted it, for this time
    assert any("could not be saved" in line and "asked again next time" in line for line in told)


def test_a_fingerprint_that_is_not_one_is_refused_with_a_sentence(tmp_path: Path) -> None:
    verify, _, ask, _ = verifier_for(tmp_path)
    with pytest.raises(ConnectError, match="no fingerprint mmchat can read"):
        verify("")
    assert ask.asked == []


def test_the_same_host_on_two_ports_is_asked_about_twice(tmp_path: Path) -> None:
    first, store, ask_first, _ = verifier_for(tmp_path, "192.168.1.5:12002")
    second, _, ask_second, _ = verifier_for(tmp_path, "192.168.1.5:12003")
    first(OLD)
    second(NEW)
    assert len(ask_first.asked) == len(ask_second.asked) == 1
    assert store.entries() == {"192.168.1.5:12002": OLD, "192.168.1.5:12003": NEW}


# --- trying again after a slow answer -------------------------------------------------------------------


class Joining:
    """A client whose connect() runs the verifier, then fails when told to (the host gave up waiting)."""

    def __init__(self, verify, fail: bool, refusal: RefusalKind = RefusalKind.OTHER) -> None:
        self.verify, self.fail, self.refusal = verify, fail, refusal

    def connect(self) -> str:
        self.verify(OLD)
        if self.fail:
            raise ConnectError("The host did not answer. Is it an mmchat host?", self.refusal)
        return "alice"


def test_a_join_that_failed_after_the_person_was_asked_is_tried_once_more(tmp_path: Path) -> None:
    verify, _, ask, _ = verifier_for(tmp_path)
    made: list[Joining] = []

    def make() -> Joining:
        made.append(Joining(verify, fail=not made))  # the first one fails
        return made[-1]

    assert connect_verified(make, verify) is made[1]
    assert len(made) == 2 and len(ask.asked) == 1  # the second try was not asked again


def test_a_host_that_refused_the_password_is_not_asked_twice(tmp_path: Path) -> None:
    verify, _, ask, _ = verifier_for(tmp_path)
    made: list[Joining] = []

    def make() -> Joining:
        made.append(Joining(verify, fail=True, refusal=RefusalKind.WRONG_PASSWORD))
        return made[-1]

    with pytest.raises(ConnectError) as refused:
        connect_verified(make, verify)
    assert refused.value.refusal is RefusalKind.WRONG_PASSWORD
    assert len(made) == 1 and len(ask.asked) == 1  # a wrong password is not sent a second time


def test_a_join_that_failed_without_asking_is_not_tried_again(tmp_path: Path) -> None:
    verify, store, _, _ = verifier_for(tmp_path)
    store.remember(WHERE, OLD)
    made: list[Joining] = []

    def make() -> Joining:
        made.append(Joining(verify, fail=True))
        return made[-1]

    with pytest.raises(ConnectError, match="did not answer"):
        connect_verified(make, verify)
    assert len(made) == 1


def test_two_verifiers_saving_at_once_leave_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    errors: list[BaseException] = []

    def save(port: int) -> None:
        try:
            for _ in range(20):
                KnownHosts(path).remember(f"10.0.0.1:{port}", OLD)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(port,)) for port in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    store = KnownHosts(path)
    assert set(store.entries().values()) == {OLD}  # whatever won, every line is whole
    assert store.problems == []
    assert [p.name for p in tmp_path.iterdir()] == ["known_hosts"]


# --- end to end: a real TLS host, a real ChatClient ----------------------------------------------------


@pytest.fixture
def tls_host(tmp_path: Path):
    from mmchat.server import ChatServer

    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    try:
        assert server.fingerprint  # every host has its certificate
        yield server
    finally:
        server.stop()


def test_end_to_end_a_new_host_is_asked_about_once_then_known(tls_host, tmp_path: Path) -> None:
    from mmchat.client import ChatClient

    where = f"127.0.0.1:{tls_host.address[1]}"
    store, ask = KnownHosts(tmp_path / "known_hosts"), Asker(True)
    for name in ("alice", "bob"):
        verify = make_verifier(parse_address(where), store, ask)
        client = ChatClient("127.0.0.1", tls_host.address[1], name, downloads=tmp_path, verify_host=verify)
        client.connect()
        client.close(wait=5)
    assert [d.verdict for d in ask.asked] == [Verdict.FIRST_USE]
    assert store.get(where) == tls_host.fingerprint


def test_end_to_end_a_changed_key_or_a_forged_invite_never_reaches_the_room(tls_host, tmp_path: Path) -> None:
    from mmchat.client import ChatClient

    where = f"127.0.0.1:{tls_host.address[1]}"
    store = KnownHosts(tmp_path / "known_hosts")
    store.remember(where, OLD)  # "trusted before": not this host's key
    for address in (parse_address(where), parse_address(f"mmchat://{where}/#{NEW}")):
        ask = Asker(False)
        verify = make_verifier(address, store, ask)
        client = ChatClient("127.0.0.1", tls_host.address[1], "mallory", downloads=tmp_path, verify_host=verify)
        with pytest.raises(ConnectError) as refused:
            client.connect()
        assert tls_host.fingerprint in str(refused.value)
        assert tls_host.online() == []
    assert store.get(where) == OLD
