"""A connection belongs to one thread, a transaction to the thread that began it."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlite_utils

from edge.db import CrossThreadTransactionError, ThreadConnections, connect, transaction

INSERT = "INSERT INTO households (label, created_at) VALUES (?, 'x')"


def labels(db: sqlite_utils.Database) -> list[str]:
    return [row[0] for row in db.execute("SELECT label FROM households ORDER BY label")]


def in_thread(fn):
    """Run ``fn`` on another thread and return its result (or raise its exception)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result(timeout=30)


@pytest.fixture
def shared(tmp_path):
    """A connection wrongly shared by threads (sqlite3's own check switched off), the way
    the gate loops shared theirs: transaction() must still refuse the second thread."""
    path = tmp_path / "menwei.db"
    connect(path).conn.close()
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
    yield sqlite_utils.Database(conn)
    conn.close()


def test_transaction_refuses_a_begin_from_a_thread_that_does_not_own_the_open_one(shared):
    inside, done = threading.Event(), threading.Event()

    def owner() -> None:
        with transaction(shared) as conn:
            conn.execute(INSERT, ("1-1-101",))
            inside.set()
            assert done.wait(30)
            conn.execute(INSERT, ("1-1-102",))

    thread = threading.Thread(target=owner, name="gate-loop")
    thread.start()
    assert inside.wait(30)
    try:
        refused = pytest.raises(CrossThreadTransactionError, match="gate-loop")
        with refused, transaction(shared) as conn:
            conn.execute(INSERT, ("9-9-999",))
    finally:
        done.set()
        thread.join(30)
    assert labels(shared) == ["1-1-101", "1-1-102"], "the owner's work committed whole"
    with transaction(shared) as conn:  # once it ended, any thread may begin the next one
        conn.execute(INSERT, ("2-2-202",))
    assert labels(shared) == ["1-1-101", "1-1-102", "2-2-202"]
    assert not shared.conn.in_transaction


def test_the_owning_thread_still_nests_a_savepoint(shared):
    def work() -> list[str]:
        with transaction(shared) as outer:
            outer.execute(INSERT, ("1-1-101",))
            with pytest.raises(sqlite3.IntegrityError), transaction(shared) as inner:
                inner.execute(INSERT, ("1-1-102",))
                inner.execute(INSERT, ("1-1-102",))
            with transaction(shared) as inner:
                inner.execute(INSERT, ("1-1-103",))
        return labels(shared)

    assert in_thread(work) == ["1-1-101", "1-1-103"]


def test_a_refused_begin_leaves_no_claim_behind(shared):
    """A failing BEGIN (another process holds the write lock past the busy timeout) must not
    leave the connection marked as owned by a thread that no longer uses it."""
    shared.conn.execute("PRAGMA busy_timeout = 50")
    blocker = sqlite3.connect(shared.execute("PRAGMA database_list").fetchone()[2], timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            in_thread(lambda: transaction(shared).__enter__())
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with transaction(shared) as conn:
        conn.execute(INSERT, ("1-1-101",))
    assert labels(shared) == ["1-1-101"]


def test_connect_gives_a_connection_no_other_thread_can_use(tmp_path):
    db = connect(tmp_path / "menwei.db")
    with pytest.raises(sqlite3.ProgrammingError, match="same thread"):
        in_thread(lambda: db.execute("SELECT 1").fetchone())
    with pytest.raises(sqlite3.ProgrammingError, match="same thread"):
        in_thread(lambda: transaction(db).__enter__())
    assert db.execute("SELECT 1").fetchone() == (1,)


def test_thread_connections_give_each_thread_its_own(tmp_path):
    db = connect(tmp_path / "menwei.db")
    connections = ThreadConnections(db)
    assert connections.get() is db, "the opener's thread keeps its own connection"

    def write(label: str) -> int:
        mine = connections.get()
        assert mine is connections.get() and mine is not db
        with transaction(mine) as conn:
            conn.execute(INSERT, (label,))
        connections.close()
        with pytest.raises(sqlite3.ProgrammingError):  # closed, not just forgotten
            mine.execute("SELECT 1")
        return id(mine)

    assert in_thread(lambda: write("1-1-101")) != id(db)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, [f"2-2-{n:03}" for n in range(40)]))
    assert len(labels(db)) == 41
    connections.close()  # the opener's connection is left to its opener
    assert db.execute("SELECT COUNT(*) FROM households").fetchone()[0] == 41


def test_thread_connections_refuse_an_in_memory_database():
    with pytest.raises(ValueError, match="database file"):
        ThreadConnections(sqlite_utils.Database(memory=True))


def test_a_scoped_connection_lasts_one_call(tmp_path):
    """A call on another component's thread (a control request) holds a connection for the
    call only: thread-local connections are otherwise freed by the garbage collector."""
    db = connect(tmp_path / "menwei.db")
    connections = ThreadConnections(db)

    def call() -> None:
        with connections.scoped() as mine:
            assert mine is connections.get() and mine is not db
            with connections.scoped() as inner:
                assert inner is mine
            mine.execute(INSERT, ("1-1-101",))
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            mine.execute("SELECT 1")
        own = connections.get()  # a thread that keeps its own keeps it through a call
        with connections.scoped() as same:
            assert same is own
        assert own.execute("SELECT 1").fetchone() == (1,)
        connections.close()

    in_thread(call)
    with connections.scoped() as mine:
        assert mine is db
    assert labels(db) == ["1-1-101"]
