"""The ledger: one file per process, merged as a union by entry id (shipped copies do not double count)."""

from __future__ import annotations

from pathlib import Path

from load.ledger import LedgerEntry, LedgerWriter, read_ledger, write_lines


def _entry(writer: LedgerWriter, at: float, code: int | None) -> LedgerEntry:
    return LedgerEntry(
        id=writer.next_id(),
        at=at,
        gateway="wompi",
        key=f"k{at}",
        order="O",
        attempt="O-a",
        status="APPROVED",
        role="event",
        signature="s",
        expect=200,
        code=code,
        run="r",
    )


def test_entries_from_several_processes_merge_in_send_order(tmp_path: Path) -> None:
    a, b = LedgerWriter(tmp_path, node="a", batch=2), LedgerWriter(tmp_path, node="b")
    for at in (1.0, 3.0, 5.0):
        a.write(_entry(a, at, 200))
    b.write(_entry(b, 2.0, None))
    a.close()
    b.close()
    merged = read_ledger(tmp_path)
    assert [e.at for e in merged] == [1.0, 2.0, 3.0, 5.0]
    assert [e.id for e in merged][:2] == ["a:1", "b:1"]
    assert merged[1].code is None


def test_shipped_copies_are_not_counted_twice(tmp_path: Path) -> None:
    writer = LedgerWriter(tmp_path, node="w1")
    for at in (1.0, 2.0):
        writer.write(_entry(writer, at, 200))
    writer.close()
    write_lines(tmp_path / "shipped" / "w1.jsonl", writer.path.read_text().splitlines())
    assert len(read_ledger(tmp_path)) == 2


def test_a_straggler_after_close_is_written_not_dropped(tmp_path: Path) -> None:
    writer = LedgerWriter(tmp_path, node="w")
    writer.write(_entry(writer, 1.0, 200))
    writer.close()
    writer.write(_entry(writer, 2.0, None))
    assert [e.at for e in read_ledger(tmp_path)] == [1.0, 2.0]
