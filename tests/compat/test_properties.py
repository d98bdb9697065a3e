"""Generated conversations: any message body, EHLO reply or reply text gives identical results."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ._harness import Conversation, compare
from ._peer import ScriptedPeer

# Fewer examples than the profile's default: each one is two real conversations.
few = settings(max_examples=40)

bodies = st.one_of(
    st.text(alphabet=st.sampled_from("a. \r\n\t-"), max_size=60),
    st.binary(max_size=60).map(lambda b: b.replace(b"\r\n.\r\n", b"")),
    st.lists(st.sampled_from(["", ".", "..", ". x", "text", ".\r", "\r\n."]), max_size=8).map(
        "\n".join
    ),
)


@few
@given(body=bodies)
def test_any_body_is_sent_identically(body: str | bytes) -> None:
    def conv(c: Conversation) -> Any:
        return c.smtp().sendmail("a@example.org", ["b@example.org"], body)

    with ScriptedPeer() as peer:
        compare(peer, conv)


keywords = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,8}", fullmatch=True)
params = st.text(alphabet=st.sampled_from("ab=1 ,"), max_size=10)
feature_lines = st.lists(
    st.one_of(
        st.tuples(keywords, params).map(lambda kp: f"{kp[0]} {kp[1]}".rstrip()),
        params.map(lambda p: "AUTH=" + p),
        st.sampled_from(["AUTH PLAIN", "SIZE", "SIZE 100", "-bad", " lead", ""]),
    ),
    max_size=6,
)


@few
@given(lines=feature_lines)
def test_any_ehlo_reply_gives_the_same_features(lines: list[str]) -> None:
    reply = "\n".join(f"250-{line}" for line in ["peer.test", *lines]) + "\n250 end"

    def conv(c: Conversation) -> Any:
        s = c.smtp()
        return s.ehlo(), [s.has_extn(k) for k in ("auth", "size", "end", "bad")]

    with ScriptedPeer({"EHLO": reply}) as peer:
        compare(peer, conv)


reply_text = st.text(alphabet=st.sampled_from("ab 1.5\t-"), max_size=20)


@few
@given(
    code=st.integers(200, 599),
    lines=st.lists(reply_text, min_size=1, max_size=4),
)
def test_any_well_formed_reply_is_returned_the_same(code: int, lines: list[str]) -> None:
    text = "\n".join(f"{code}-{line}" for line in lines[:-1]) + ("\n" if len(lines) > 1 else "")
    text += f"{code} {lines[-1]}"

    def conv(c: Conversation) -> Any:
        return c.smtp().docmd("XTEST")

    with ScriptedPeer({"XTEST": text}) as peer:
        compare(peer, conv)
