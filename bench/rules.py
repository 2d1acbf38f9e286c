"""Decisions per second of the sync rules alone: no database, no HTTP, one core.

One decision is what the pipeline decides for one Shopify customer against its POS counterpart:
build the desired POS customer (mapping), choose among matching candidates, diff against the POS
reading (with consent merged), and the reverse-direction consent check. Inputs are varied (phone
formats, spelling, consent stamps, duplicates) so caches and short cuts do not flatter the number.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta

from bench.table import Result, render
from possync.adapters.base import Capabilities
from possync.models.customer import Address, Consent, ConsentState, Customer
from possync.models.shopify_values import ShopifyCustomer, ShopifyOrder
from possync.tasks.rules.consent import consent_for_shopify, pos_flag_consent
from possync.tasks.rules.diff import diff_for_update
from possync.tasks.rules.keys import email_key
from possync.tasks.rules.mapping import desired_pos_customer
from possync.tasks.rules.matching import CandidateRow, choose_with_conflicts

TARGET = 5_000.0  # decisions per second
CAPABILITIES = {
    "r-series": Capabilities(phone_slot="Home", has_tags=True, sms_consent=True, shipping_address=False),
    "x-series": Capabilities(
        phone_slot="phone", has_tags=False, sms_consent=True, shipping_address=True, tags_field="custom_field_1",
        can_unarchive=False,
    ),
    "heartland": Capabilities(
        phone_slot="mobile", has_tags=False, sms_consent=False, shipping_address=True, tags_field="custom@tags"
    ),
}
PHONE_FORMATS = ["{a}{e}{l}", "+1{a}{e}{l}", "({a}) {e}-{l}", "+1 {a}-{e}-{l}", "{a}.{e}.{l}"]
Case = tuple[ShopifyCustomer, ShopifyOrder, Customer, list[CandidateRow]]


def _cases(n: int, seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    cases: list[Case] = []
    for i in range(n):
        a, e, line = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
        phone = rng.choice(PHONE_FORMATS).format(a=a, e=e, l=f"{line:04d}")
        stored_phone = rng.choice(PHONE_FORMATS).format(a=a, e=e, l=f"{line:04d}")
        home = Address(f"{i} Main St", None, "Ottawa", "ON", "K1A 0B1", "CA")
        stamp = t0 + timedelta(minutes=rng.randint(0, 100_000))
        source = Customer(
            first_name=f"First{i}", last_name=f"Last{i}", email=f"Customer.{i}@Example.com", phone=phone,
            birthday=date(1980 + i % 30, 1 + i % 12, 1 + i % 28), billing_address=home,
            email_consent=Consent(rng.choice(list(ConsentState)), stamp),
            sms_consent=Consent(rng.choice(list(ConsentState)), None),
        )
        shopify = ShopifyCustomer(id=str(1000 + i), customer=source)
        ship = Address(f"{i} Dock Rd", None, "Halifax", "NS", "B3H 1A1", "CA")
        order = ShopifyOrder(id=str(5000 + i), customer=shopify, source_name="web", shipping_address=ship)
        changed = rng.random() < 0.3  # 30% of readings differ somewhere
        stored = Customer(
            first_name=f"First{i}" if not changed else f"Old{i}", last_name=f"Last{i}",
            email=f"customer.{i}@example.com ", phone=stored_phone, birthday=source.birthday,
            billing_address=Address(f"{i} main st", None, "ottawa", "on", "k1a 0b1", "ca"),
            email_consent=pos_flag_consent(rng.random() < 0.5, stamp - timedelta(days=rng.randint(-5, 5))),
            sms_consent=pos_flag_consent(rng.random() < 0.5, None), tags=("VIP", "shopify"),
        )
        candidates = [  # found by phone; some with the customer's email, some another person's (rule 10)
            CandidateRow(str(rng.randint(1, 10**6)), f"{rng.randint(1, 10**6):020d}",
                         rng.choice(["active", "archived"]),
                         rng.choice([f"customer.{i}@example.com", f"someone.{i}@example.net", None]))
            for _ in range(rng.choice([1, 1, 1, 2, 3]))
        ]
        cases.append((shopify, order, stored, candidates))
    return cases


def decide(case: Case, capabilities: Capabilities) -> tuple[dict, object, object]:
    shopify, order, stored, candidates = case
    desired = desired_pos_customer(shopify, order=order, account_name="acmestore", capabilities=capabilities)
    match = choose_with_conflicts(candidates, via="index", matched_on="phone",
                                  wanted_email_key=email_key(shopify.customer.email), conflicting="new")
    changes = diff_for_update(desired, stored, update_names=True, capabilities=capabilities)
    back = consent_for_shopify(stored.email_consent, shopify.customer.email_consent)
    return changes, match, back


def measure(capabilities: Capabilities, cases: list[Case], seconds: float = 1.5) -> float:
    for case in cases[:50]:  # warm up imports and phonenumbers metadata
        decide(case, capabilities)
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for case in cases:
            decide(case, capabilities)
        done += len(cases)
    return done / (time.perf_counter() - start)


def run() -> list[Result]:
    cases = _cases(2_000)
    results = []
    for name, capabilities in CAPABILITIES.items():
        rate = measure(capabilities, cases)
        results.append(
            Result(
                name=f"rules: decisions ({name})",
                value=rate,
                unit="/s",
                target=f">= {TARGET:,.0f}/s",
                passed=rate >= TARGET,
                note=("mapping + choose_with_conflicts (phone matches, rule 10) + diff (consent merged)"
                      " + reverse consent; one core, no I/O"),
            )
        )
    return results


if __name__ == "__main__":
    print(render(run()))
