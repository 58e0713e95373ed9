"""The known-defect list is sound, each entry still fails, and the guard catches what it should.

Each entry of :data:`known.KNOWN` must recognise its own corpus file, and that file must
still fail the target's oracle: a strict ``xfail``, so a merged fix shows up here as
XPASS, the sign to delete the entry.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import deltaprop as dp

from .harness import guard
from .known import KNOWN
from .strategies import CORPUS

OWNERS = {"issue-mem-bounds", "issue-live-server", "issue-numbers", "issue-process-output"}


def _case(entry):
    """The fuzz input of ``entry.target`` that the entry's corpus file is."""
    data = (CORPUS / entry.corpus).read_bytes()
    if entry.target == "tables":
        return "".join((CORPUS / entry.corpus).suffixes), data, {}
    return data


def test_entries_name_their_owner_and_recognise_their_corpus_file():
    assert len({entry.name for entry in KNOWN}) == len(KNOWN)
    for entry in KNOWN:
        assert entry.owner in OWNERS, entry.name
        assert entry.defect and entry.reproducer, entry.name
        assert entry.matches(_case(entry)), entry.name


def _still_fails(entry, tmp_path) -> None:
    if entry.target == "tables":
        from .test_fuzz_tables import check_read

        path = tmp_path / f"table{''.join((CORPUS / entry.corpus).suffixes)}"
        path.write_bytes((CORPUS / entry.corpus).read_bytes())
        with guard(entry.corpus):
            check_read(path, {})
    elif entry.target == "http":
        from .test_fuzz_http import check_request

        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        net = dp.Network([dp.Dense(2, 3, "tanh"), dp.Dense(3, 1)], random_state=0)
        with dp.serve(net, X, X[:, 0] != X[:, 1], epochs_per_second=200.0, block=False) as live:
            raw = (CORPUS / entry.corpus).read_bytes()
            raw = raw.replace(b"{HOST}", f"127.0.0.1:{live.port}".encode())
            with guard(entry.corpus, seconds=30):
                check_request(live, raw)
                time.sleep(0.5)  # the training thread meets the new setting
                check_request(live, b"GET /state HTTP/1.1\r\nHost: localhost\r\n\r\n")
    else:
        raise AssertionError(f"no reproduction for target {entry.target!r}")


@pytest.mark.parametrize(
    "entry",
    [pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=e.defect)) for e in KNOWN],
    ids=[e.name for e in KNOWN],
)
def test_known_defect_still_fails_its_oracle(entry, tmp_path):
    _still_fails(entry, tmp_path)


def test_the_guard_turns_a_hang_into_a_failure():
    with pytest.raises(AssertionError, match=r"hang: a sleep ran for more than 0\.2 s"):
        with guard("a sleep", seconds=0.2):
            time.sleep(5)


def test_the_guard_bounds_the_address_space():
    with pytest.raises(MemoryError), guard("a big allocation"):
        np.ones(1 << 40, dtype=np.uint8)  # 1 TiB, past the headroom
    np.ones(1 << 20)  # the limit is lifted again
