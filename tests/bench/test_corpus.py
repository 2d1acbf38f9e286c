"""The corpus benchmark's own truth: the generator, the accounting, and one smallest run end to end."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from bench import corpus
from bench.corpus_data import CASES, Person, PosState, make_corpus, tally, verdicts
from testing.stack import Shop, Stack, stack

TINY = corpus.SHAPES[0].scaled(0.0)  # the smallest R-Series corpus: 24 Shopify, 16 POS customers, 36 orders


def test_the_generator_is_seeded_and_every_case_orders() -> None:
    one, again, other = make_corpus(TINY, 3), make_corpus(TINY, 3), make_corpus(TINY, 4)
    assert [(p.case, p.orders) for p in one.people] == [(p.case, p.orders) for p in again.people]
    assert [(p.case, p.orders) for p in one.people] != [(p.case, p.orders) for p in other.people]
    ordering = Counter(p.case for p in one.people if p.orders)
    assert set(ordering) == set(CASES)  # each kind of trouble is in even the smallest run
    assert len(one.orders) == TINY.orders and None in one.orders  # some orders have no customer
    assert sum(p.orders for p in one.people) == sum(i is not None for i in one.orders)


def test_the_truth_never_links_to_an_archived_record_and_ambiguity_takes_the_oldest() -> None:
    data = make_corpus(corpus.SHAPES[0], 14)
    seeds = {s.ref: s for s in data.pos} | {s.ref: s for s in data.recent.values()}
    for person in data.people:
        if person.expected:
            assert not seeds[person.expected].archived
        if person.case == "ambiguous":
            first, second = (seeds[r] for r in person.pos_refs)
            assert person.expected == first.ref and first.age < second.age
        if person.case in ("conflict", "archived", "archived_mid_sync", "new"):
            assert person.expected is None
    assert len(data.pos) == 1350 and len(data.people) == 2000 and len(data.orders) == 3000
    assert sum(s.bulk for s in data.pos) > 0.8 * len(data.pos)  # one bulk import, one timestamp


def _state(**records: tuple[bool, str | None, bool]) -> dict[str, PosState]:
    return {pos_id: PosState(*values) for pos_id, values in records.items()}


def test_the_accounting_counts_each_fault_once_per_customer() -> None:
    people = [Person(0, "email", "A", "A", "a@example.com", "+1", orders=1, shopify_id="s0", expected="p0"),
              Person(1, "new", "B", "B", "b@example.com", "+2", orders=2, shopify_id="s1"),
              Person(2, "archived", "C", "C", "c@example.com", "+3", orders=1, shopify_id="s2"),
              Person(3, "email", "D", "D", "d@example.com", "+4", orders=1, shopify_id="s3", expected="p3"),
              Person(4, "new", "E", "E", "e@example.com", "+5", orders=0, shopify_id="s4")]
    pos_ids = {"p0": "10", "p3": "13", "p2": "12"}
    pos = _state(**{"10": (True, "a@example.com", True), "12": (False, "c@example.com", True),
                    "13": (True, "d@example.com", True), "20": (True, "b@example.com", False),
                    "21": (True, "d@example.com", False), "22": (True, "c@example.com", False)})
    right = {"s0": "10", "s1": "20", "s2": "22", "s3": "13"}
    assert tally(people, pos_ids, right, pos).checked == 4  # the customer without an order is not judged
    assert verdicts(people, pos_ids, right, pos) == {0: set(), 1: set(), 2: set(), 3: {"duplicated"}}

    wrong = {**right, "s0": "13", "s2": "12"}  # a mis-link, and a link left on an archived record
    counted = tally(people, pos_ids, wrong, pos)
    assert (counted.wrong_links, counted.missing, counted.duplicated) == (1, 1, 1)
    assert counted.examples["wrong link"] == ["email:s0"] and counted.examples["missing"] == ["archived:s2"]
    assert tally(people, pos_ids, {k: v for k, v in right.items() if k != "s1"}, pos).missing == 1


def test_the_smallest_corpus_runs_end_to_end_and_a_mislink_is_counted() -> None:
    """The real stack (receiver, workers, fakes, PostgreSQL, Redis): the tally of the end state, then
    the same end state with one right link moved to another POS record: exactly one more wrong link."""
    seen: dict[str, object] = {}

    def mislink(s: Stack, shop: Shop, data: corpus.Corpus, pos_ids: dict[str, str]) -> None:
        known = set(pos_ids.values())
        before = verdicts(data.people, pos_ids, corpus.links_of(s.database_url, shop.tenant_id),
                          corpus.pos_states(shop.kind, shop.pos, known))
        victim = next(data.people[i] for i, faults in before.items() if not faults)
        stranger = pos_ids["s0"]  # a store-only customer: nobody's truth
        seen["before"] = sum("wrong link" in f for f in before.values())
        seen["victim"] = victim.index
        from possync.models.db import get_engine

        with get_engine(s.database_url).begin() as conn:
            conn.execute(sa.text("UPDATE customer_links SET pos_customer_id = :p WHERE tenant_id = :t "
                                 "AND shopify_customer_id = :s"),
                         {"p": stranger, "t": shop.tenant_id, "s": victim.shopify_id})

    with stack("corpus-test") as s:
        s.start_receiver()
        s.start_worker("--concurrency", "4")
        measured = corpus.measure(s, TINY, lambda _text: None, timeout=90, tamper=mislink)
    assert measured.finished and measured.deliveries == TINY.orders
    assert measured.tally.checked == sum(p.orders > 0 for p in make_corpus(TINY, corpus.SEED).people)
    assert measured.tally.wrong_links == seen["before"] + 1
    rows = corpus.results(measured)
    assert len(rows) == 9 and all(r.name.startswith("corpus lightspeed-r: ") for r in rows)
    assert rows[2].value == measured.tally.wrong_links and not rows[2].passed


def test_only_the_intended_records_share_a_customers_email_or_phone() -> None:
    """An accidental shared phone would be a `conflict` the truth table does not know about."""
    import phonenumbers

    for shape in corpus.SHAPES:
        data = make_corpus(shape, 14)
        owners: dict[str, set[str]] = {}
        for seed in [*data.pos, *data.recent.values()]:
            keys = [(seed.email or "").strip().lower()]
            if seed.phone:
                keys.append(phonenumbers.format_number(phonenumbers.parse(seed.phone, shape.region), 0))
            for key in filter(None, keys):
                owners.setdefault(key, set()).add(seed.ref.rstrip("b"))  # an ambiguous pair is one person's
        for person in data.people:
            phone = phonenumbers.format_number(phonenumbers.parse(person.phone, shape.region), 0)
            sharing = owners.get(person.email, set()) | owners.get(phone, set())
            assert sharing <= {f"p{person.index}"}, (shape.kind, person.case, sharing)
