"""The engine on its own: ledger arithmetic and atomicity, job scheduling on a virtual clock, ids."""

from __future__ import annotations

import threading

import pytest

from mockserver.engine import Engine
from mockserver.engine.assets import PNG
from mockserver.engine.clock import Clock
from mockserver.engine.jobs import COMPLETED, FAILED, QUEUED, RUNNING
from mockserver.engine.ledger import InsufficientFunds


@pytest.fixture
def engine() -> Engine:
    return Engine.open(":memory:", seed=3, clock=Clock("virtual"))


def tenant(engine: Engine, balance: int, api: str = "test") -> str:
    return engine.tenants.create(api, "t", [f"key-{engine.ids.token(8)}"], balance=balance).id


def test_balance_is_the_sum_of_the_entries(engine: Engine) -> None:
    tid = tenant(engine, 1000)
    engine.ledger.debit(tid, 300, "a")
    engine.ledger.refund(tid, 100, "b")
    engine.ledger.top_up(tid, 50)
    entries = engine.ledger.entries(tid)
    assert [entry.kind for entry in entries] == ["top-up", "debit", "refund", "top-up"]
    assert engine.ledger.balance(tid) == sum(entry.amount for entry in entries) == 850


def test_a_debit_never_takes_the_balance_below_zero(engine: Engine) -> None:
    tid = tenant(engine, 100)
    with pytest.raises(InsufficientFunds) as refusal:
        engine.ledger.debit(tid, 101, "too much")
    assert (refusal.value.required, refusal.value.balance) == (101, 100)
    assert engine.ledger.balance(tid) == 100 and len(engine.ledger.entries(tid)) == 1


def test_concurrent_debits_take_exactly_what_the_wallet_covers(engine: Engine) -> None:
    tid = tenant(engine, 7_000)
    accepted, refused = [], []
    barrier = threading.Barrier(20)

    def spend() -> None:
        barrier.wait()
        try:
            accepted.append(engine.ledger.debit(tid, 1_000, "race"))
        except InsufficientFunds:
            refused.append(1)

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(accepted), len(refused)) == (7, 13)
    assert engine.ledger.balance(tid) == 0
    assert sorted(entry.balance_after for entry in accepted) == list(range(0, 7000, 1000))


def test_jobs_run_fifo_on_the_slots_and_complete_on_the_clock(engine: Engine) -> None:
    engine.jobs.set_slots("test", 2)
    tid = tenant(engine, 10_000)
    output = {"media_type": PNG, "width": 64, "height": 32}
    for index in range(3):
        engine.jobs.submit("test", tid, f"j{index}", "image", {"outputs": [output]}, duration=10, cost=100)
    jobs = {job.id: job for job in engine.jobs.of_tenant("test", tid)}
    assert [jobs[j].status for j in ("j0", "j1", "j2")] == [RUNNING, RUNNING, QUEUED]
    assert jobs["j2"].queue_position == 1
    engine.clock.advance(10)
    jobs = {job.id: job for job in engine.jobs.of_tenant("test", tid)}
    assert [jobs[j].status for j in ("j0", "j1", "j2")] == [COMPLETED, COMPLETED, RUNNING]
    assert jobs["j2"].started_at == jobs["j0"].finished_at
    engine.clock.advance(5)
    assert engine.jobs.get("test", tid, "j2").progress == pytest.approx(0.5)
    engine.clock.advance(5)
    assert engine.jobs.get("test", tid, "j2").status == COMPLETED
    assets = engine.assets.of_tenant(tid)
    assert len(assets) == 3 and {(a.width, a.height) for a in assets} == {(64, 32)}
    assert engine.ledger.balance(tid) == 9_700


def test_a_failing_job_is_refunded_and_produces_nothing(engine: Engine) -> None:
    tid = tenant(engine, 1_000)
    engine.jobs.submit("test", tid, "bad", "image", {"outputs": [{"media_type": PNG, "width": 8, "height": 8}]},
                       duration=10, cost=400, fail_with="generation_failed")
    assert engine.ledger.balance(tid) == 600
    job = engine.jobs.get("test", tid, "bad")
    assert job.status == FAILED
    assert engine.ledger.balance(tid) == 1_000
    assert [entry.kind for entry in engine.ledger.entries(tid)] == ["top-up", "debit", "refund"]
    assert engine.assets.of_tenant(tid) == []


def test_another_tenants_job_is_invisible(engine: Engine) -> None:
    owner, other = tenant(engine, 1_000), tenant(engine, 1_000)
    engine.jobs.submit("test", owner, "mine", "image", {}, duration=1, cost=0)
    assert engine.jobs.get("test", other, "mine") is None
    assert engine.jobs.get("test", owner, "mine") is not None


def test_ids_are_reproducible_for_a_seed_and_never_repeat() -> None:
    first = Engine.open(":memory:", seed=42)
    second = Engine.open(":memory:", seed=42)
    tokens = [first.ids.token(12) for _ in range(50)]
    assert tokens == [second.ids.token(12) for _ in range(50)]
    assert len(set(tokens)) == 50
    assert Engine.open(":memory:", seed=43).ids.token(12) != tokens[0]


def test_state_survives_a_restart(tmp_path) -> None:
    database = str(tmp_path / "state.sqlite3")
    engine = Engine.open(database, seed=5)
    tid = tenant(engine, 2_000)
    engine.ledger.debit(tid, 500, "kept")
    issued = {engine.ids.token(16) for _ in range(10)}
    engine.store.close()
    reopened = Engine.open(database)
    assert reopened.ids.seed == 5
    assert reopened.ledger.balance(tid) == 1_500
    assert reopened.tenants.get("test", tid) is not None
    assert issued.isdisjoint(reopened.ids.token(16) for _ in range(2_000))  # across id blocks too


def test_a_rolled_back_transaction_leaves_no_trace_in_what_the_engine_remembers(engine: Engine) -> None:
    tid = tenant(engine, 1_000)
    with pytest.raises(RuntimeError), engine.store.transaction():
        engine.ledger.debit(tid, 600, "undone")
        engine.jobs.submit("test", tid, "undone", "image", {}, duration=1, cost=0)
        raise RuntimeError
    assert engine.ledger.balance(tid) == 1_000
    assert engine.jobs.get("test", tid, "undone") is None
    engine.ledger.debit(tid, 1_000, "all of it")  # the cached balance would have refused this
    assert engine.ledger.balance(tid) == 0


def test_settling_reads_the_queue_only_when_something_is_due(engine: Engine, monkeypatch) -> None:
    engine.jobs.set_slots("test", 1)
    tid = tenant(engine, 10_000)
    for index in range(3):
        engine.jobs.submit("test", tid, f"j{index}", "image", {}, duration=10, cost=1)
    engine.jobs.settle("test")
    reads = []
    original = engine.store.jobs_in_status
    monkeypatch.setattr(engine.store, "jobs_in_status",
                        lambda api, *args: reads.append(args[0]) or original(api, *args))
    for _ in range(5):
        engine.jobs.get("test", tid, "j2")
    engine.jobs.submit("test", tid, "j3", "image", {}, duration=10, cost=1)  # no free slot: nothing new is due
    assert reads == []
    engine.clock.advance(10)
    assert engine.jobs.get("test", tid, "j1").status == RUNNING
    assert engine.jobs.get("test", tid, "j2").queue_position == 1
    assert reads == ["running", "queued"]  # one look at the slots, one at the head of the queue


def test_reset_forgets_what_the_engine_remembered_of_the_api(engine: Engine) -> None:
    tid = tenant(engine, 1_000)
    secret = engine.tenants.credentials(engine.tenants.get("test", tid))[0]
    assert engine.tenants.authenticate("test", secret) is not None and engine.ledger.balance(tid) == 1_000
    engine.faults.take("test", "job", tid)  # remembered: none armed
    engine.reset("test")
    assert engine.tenants.authenticate("test", secret) is None
    assert engine.ledger.balance(tid) == 0
    again = engine.tenants.create("test", "again", [secret], balance=5)
    engine.faults.arm("test", "job")
    assert engine.tenants.authenticate("test", secret).id == again.id
    assert engine.faults.take("test", "job", again.id) is not None


def test_what_the_engine_remembers_is_bounded_and_forgetting_changes_no_answer() -> None:
    engine = Engine.open(":memory:", seed=9, clock=Clock("virtual"), cache_size=4)
    tenants = [(f"key-{index}", tenant_id) for index in range(12)
               for tenant_id in [engine.tenants.create("test", "t", [f"key-{index}"], balance=1_000).id]]
    for index, (_, tid) in enumerate(tenants):
        engine.jobs.submit("test", tid, f"j{index}", "image", {}, duration=1, cost=100 + index)
    engine.clock.advance(60)
    for _ in range(2):  # the second pass reads again what the first pass made the engine forget
        for index, (key, tid) in enumerate(tenants):
            assert engine.tenants.authenticate("test", key).id == tid
            assert engine.jobs.get("test", tid, f"j{index}").status == COMPLETED
            assert engine.jobs.count_active("test", tid) == 0
            assert engine.ledger.balance(tid) == 900 - index
    memos = {"finished jobs": engine.jobs._finished, "active counts": engine.jobs._active_counts,
             "balances": engine.ledger._balances, "credentials": engine.tenants._by_credential}
    assert {name: len(memo) for name, memo in memos.items()} == dict.fromkeys(memos, 4)


def test_an_lru_forgets_the_least_recently_used_entry() -> None:
    from mockserver.engine.lru import LRU

    memo: LRU[str, int] = LRU(2)
    memo["a"], memo["b"] = 1, 2
    assert memo.get("a") == 1  # now "b" is the least recently used
    memo["c"] = 3
    assert ("a" in memo, "b" in memo, "c" in memo) == (True, False, True)
    assert memo.get("b", -1) == -1 and len(memo) == 2
    with pytest.raises(ValueError):
        LRU(0)


def test_a_notification_wakes_every_waiter_and_a_wait_ends_at_its_timeout() -> None:
    import asyncio

    from mockserver.engine.events import Events

    async def scenario() -> tuple[list[str], int]:
        events = Events()
        woken: list[str] = []

        async def follow(name: str, timeout: float | None) -> None:
            await events.wait(timeout)
            woken.append(name)

        waiters = [asyncio.create_task(follow(name, None)) for name in ("a", "b")]
        timed = asyncio.create_task(follow("timed", 0.01))
        await asyncio.sleep(0.05)
        assert woken == ["timed"]  # the others wait for a notification
        events.notify()
        await asyncio.gather(*waiters, timed)
        return woken, len(events._waiters)

    woken, left = asyncio.run(scenario())
    assert sorted(woken) == ["a", "b", "timed"] and left == 0  # nobody who stopped waiting is kept


def test_a_transcript_is_the_chats_latest_lines_oldest_first() -> None:
    store = Engine.open(":memory:").store
    for index in range(6):
        kind = "media" if index == 4 else "user"
        store.insert_chat_message({"id": f"m{index}", "chat_id": "c", "tenant_id": "t", "kind": kind,
                                   "selected_candidate_id": f"k{index}", "created_at": 0.0})
        store.insert_chat_candidate({"id": f"k{index}", "message_id": f"m{index}", "chat_id": "c", "tenant_id": "t",
                                     "text": f"line {index}", "created_at": 0.0})
    lines = [row["text"] for row in store.chat_transcript("c", last=3, skip_kind="media")]
    assert lines == ["line 2", "line 3", "line 5"]
    assert [row["text"] for row in store.chat_transcript("c", 5, last=2)] == ["line 2", "line 3"]  # seqs from 1


def test_a_submitted_job_is_answered_as_it_was_stored(engine: Engine) -> None:
    tid = tenant(engine, 1_000)
    engine.jobs.set_slots("test", 1)
    engine.jobs.submit("test", tid, "first", "image", {}, duration=5, cost=1)
    answered = engine.jobs.submit("test", tid, "second", "image", {"outputs": [], "n": 1.5}, duration=3, cost=2)
    assert answered == engine.jobs.get("test", tid, "second")
    assert (answered.duration, type(answered.duration), answered.queue_position) == (3.0, float, 1)


@pytest.mark.parametrize("database", [":memory:", "file"])
def test_a_block_that_fails_undoes_every_kind_of_write_and_a_reading_block_writes_nothing(tmp_path,
                                                                                         database: str) -> None:
    store = Engine.open(str(tmp_path / "s.sqlite3") if database == "file" else ":memory:").store
    store.commit()
    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            store.get_setting("read first")  # a block that begins with reads
        store.next_counter("counter")
        store.set_setting("key", 1)
        raise RuntimeError
    assert store.next_counter("counter") == 1 and store.get_setting("key") is None
    store.commit()
    with store.transaction():
        store.get_setting("key")
    assert not store.pending  # nothing to commit after a block that only read


def test_a_rolled_back_change_of_the_config_is_forgotten_with_its_date() -> None:
    from mockserver import dialects
    from mockserver.context import ApiContext

    context = ApiContext(Engine.open(":memory:", clock=Clock("virtual")), dialects.load("lovlychat"))
    prices, changed_at = context.config()["prices"], context.config_changed_at()
    with pytest.raises(RuntimeError), context.engine.store.transaction():
        context.engine.clock.advance(60)
        context.update_config({"prices": {"image.standard": 1}})
        assert context.config()["prices"]["image.standard"] == 1 and context.config_changed_at() > changed_at
        raise RuntimeError
    assert (context.config()["prices"], context.config_changed_at()) == (prices, changed_at)


def test_remembered_assets_go_with_their_job_and_stay_with_their_tenant(engine: Engine) -> None:
    owner, other = tenant(engine, 1_000), tenant(engine, 1_000)
    output = {"media_type": PNG, "width": 8, "height": 8}
    for job_id in ("kept", "deleted"):
        engine.jobs.submit("test", owner, job_id, "image", {"outputs": [output, output]}, duration=0, cost=0)
    engine.jobs.settle("test")
    made = engine.assets.of_job(owner, "deleted")
    assert len(made) == 2 and engine.assets.of_job(owner, "deleted") == made  # the second answer is remembered
    assert engine.assets.of_job(other, "deleted") == []
    engine.jobs.delete("test", "deleted")
    assert engine.assets.of_job(owner, "deleted") == []
    newest = engine.assets.newest(owner, 10)
    assert [asset.job_id for asset in newest] == ["kept", "kept"] and engine.assets.newest(owner, 10) == newest
    engine.assets.delete(newest[0].id)
    assert engine.assets.of_job(owner, "kept") == newest[1:] and engine.assets.newest(owner, 10) == newest[1:]


def test_a_job_has_its_own_params_even_where_a_deleted_or_undone_job_had_its_seq(engine: Engine) -> None:
    tid = tenant(engine, 1_000)
    engine.jobs.submit("test", tid, "deleted", "image", {"n": "deleted"}, duration=0, cost=0)
    assert engine.jobs.get("test", tid, "deleted").params == {"n": "deleted"}
    engine.jobs.delete("test", "deleted")
    engine.jobs.submit("test", tid, "next", "image", {"n": "next"}, duration=0, cost=0)
    assert [job.params["n"] for job in engine.jobs.of_tenant("test", tid)] == ["next"]
    with pytest.raises(RuntimeError), engine.store.transaction():
        engine.jobs.submit("test", tid, "undone", "image", {"n": "undone"}, duration=0, cost=0)
        engine.jobs.get("test", tid, "undone")
        raise RuntimeError
    engine.jobs.submit("test", tid, "last", "image", {"n": "last"}, duration=0, cost=0)
    assert [job.params["n"] for job in engine.jobs.of_tenant("test", tid)] == ["next", "last"]


def test_a_listing_longer_than_the_memo_has_every_jobs_params() -> None:
    engine = Engine.open(":memory:", clock=Clock("virtual"), cache_size=2)
    tid = tenant(engine, 1_000)
    for index in range(5):
        engine.jobs.submit("test", tid, f"j{index}", "image", {"n": index}, duration=60, cost=0)
    assert [job.params["n"] for job in engine.jobs.of_tenant("test", tid)] == list(range(5))
    assert [job.params["n"] for job in engine.jobs.active_of("test", tid)] == list(range(5))


def test_a_page_of_finished_jobs_is_the_newest_of_the_kinds_asked_for(engine: Engine) -> None:
    tid, other = tenant(engine, 1_000), tenant(engine, 1_000)
    for index in range(7):
        engine.jobs.submit("test", tid, f"j{index}", "video" if index % 3 == 0 else "image", {}, duration=0, cost=0)
    engine.jobs.submit("test", other, "theirs", "image", {}, duration=0, cost=0)
    engine.jobs.submit("test", tid, "running", "image", {}, duration=60, cost=0)
    engine.clock.advance(1)
    page, total = engine.jobs.finished_page("test", tid, ("image",), 1, 2)
    assert ([job.id for job in page], total) == (["j4", "j2"], 4)  # images j5, j4, j2, j1; the second and third
    page, total = engine.jobs.finished_page("test", tid, ("image", "video"), 6, 5)
    assert ([job.id for job in page], total) == (["j0"], 7)


def test_a_job_that_starts_and_ends_between_two_looks_keeps_both_times(engine: Engine) -> None:
    tid = tenant(engine, 1_000)
    engine.jobs.set_slots("test", 1)
    for job_id in ("first", "second"):
        engine.jobs.submit("test", tid, job_id, "image", {}, duration=5, cost=0)
    engine.clock.advance(60)
    engine.jobs.settle("test")
    engine.store._forget()  # what is stored, not what is remembered
    second = engine.jobs.get("test", tid, "second")
    assert (second.status, second.finished_at - second.started_at) == (COMPLETED, 5)
    assert second.started_at == engine.jobs.get("test", tid, "first").finished_at


def test_the_count_of_finished_jobs_follows_completions_and_deletions(engine: Engine) -> None:
    tid = tenant(engine, 1_000)
    engine.jobs.submit("test", tid, "a", "image", {}, duration=0, cost=0)
    assert engine.jobs.finished_page("test", tid, ("image",), 0, 10)[1] == 1
    engine.jobs.submit("test", tid, "b", "image", {}, duration=0, cost=0)
    engine.jobs.submit("test", tid, "c", "video", {}, duration=0, cost=0)
    assert engine.jobs.finished_page("test", tid, ("image",), 0, 10)[1] == 2
    engine.jobs.delete("test", "a")
    assert engine.jobs.finished_page("test", tid, ("image", "video", "image"), 0, 10)[1] == 2


def test_an_asset_id_already_taken_is_drawn_again(engine: Engine, monkeypatch) -> None:
    tid = tenant(engine, 1_000)
    first = engine.assets.create("test", tid, PNG, 8, 8, id_length=6)
    draws = iter([(first.id, 1), (first.id, 2), ("fresh1", 3)])
    monkeypatch.setattr(engine.ids, "token_and_seed", lambda length: next(draws))
    assert engine.assets.create("test", tid, PNG, 8, 8, id_length=6).id == "fresh1"
