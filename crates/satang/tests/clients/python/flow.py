"""The Alipay / Alipay HK integration of the seeds, written the way a merchant writes it with omise-python.

Run by crates/satang/tests/clients.rs against a real `satang serve`. The only satang-specific line is the
base URL; `mark_as_paid` (satang's test-mode completion) goes through the client's own Request class.
"""
import os
import sys

import omise

omise.api_main = os.environ["SATANG_URL"]
omise.api_secret = os.environ["SATANG_SKEY"]
omise.api_public = os.environ["SATANG_PKEY"]


def check(cond, what):
    if not cond:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)


def raw(method, *path, **payload):
    return omise.Request(omise.api_secret, omise.api_main, omise.api_version).send(method, path, payload)


def flow():
    # 1. A source (omise-python sends sources with the secret key).
    source = omise.Source.create(type="alipay_hk", amount=150000, currency="SGD", platform_type="WEB")
    check(source.id.startswith("src_test_"), "source id")
    check(source.flow == "app_redirect", "alipay_hk flow")
    check(omise.Source.retrieve(source.id).charge_status == "unknown", "unused source")

    # 2. A charge with it; then one with an inline source.
    charge = omise.Charge.create(
        amount=150000,
        currency="SGD",
        source=source.id,
        return_uri="https://shop.example/orders/345678/complete",
        description="Order 345678",
        metadata={"order": {"id": 345678}},
    )
    check(charge.status == "pending", "pending charge")
    check(charge.authorize_uri.startswith(omise.api_main), "authorize_uri points at satang")
    check(charge.source.id == source.id, "embedded source")
    check(charge.fee == 4350 and charge.net == 145650, "seed 000 fees")
    inline = omise.Charge.create(
        amount=100000, currency="thb", source={"type": "alipay"}, return_uri="https://shop.example/r"
    )
    check(inline.source.type == "alipay" and inline.source.flow == "redirect", "inline source")

    # 3. Retrieve and list (LazyCollection sends a JSON body on GET).
    check(omise.Charge.retrieve(charge.id).metadata.order.id == 345678, "retrieve keeps metadata")
    charges = omise.Charge.list()
    check(len(charges) == 2, "len(list) reads total")
    check(sorted(c.id for c in charges) == sorted([charge.id, inline.id]), "iteration pages through")

    # 3b. Search (Search.execute writes the query string itself, filters as filters[key]=value).
    found = omise.Search.execute("charge", query="345678", filters={"currency": "SGD", "amount": "1000..2000"})
    check(found.total == 1 and len(found) == 1 and found[0].id == charge.id, "search by metadata and filters")
    check(found.scope == "charge" and found.query == "345678", "search echoes its request")
    check(omise.Search.execute("charge", filters={"captured": "true"}).total == 0, "nothing captured yet")

    # 4. The payer pays (test mode), the charge completes.
    raw("post", "charges", charge.id, "mark_as_paid")
    charge.reload()
    check(charge.status == "successful" and charge.paid and charge.authorized, "charge paid")
    check(charge.transaction.startswith("trxn_test_"), "transaction id")

    # 5. Events: per charge and by id; event data is the charge at that moment.
    keys = [e.key for e in charge.list_events()]
    check(keys == ["charge.create", "charge.complete"], "charge events: %r" % keys)
    completed = [e for e in omise.Event.list() if e.key == "charge.complete"][0]
    event = omise.Event.retrieve(completed.id)
    check(event.data.id == charge.id and event.data.status == "successful", "event data")

    # 6. Update, expire, and errors as the client's own exceptions.
    charge.update(description="Order 345678 (paid)")
    check(omise.Charge.retrieve(charge.id).description == "Order 345678 (paid)", "update")
    inline.expire()
    check(inline.status == "expired" and inline.expired, "expire")
    try:
        omise.Charge.create(amount=1, currency="thb", source={"type": "alipay"}, return_uri="https://shop.example/r")
        check(False, "a charge below the minimum must fail")
    except omise.errors.InvalidChargeError as e:
        check("at least 2000" in str(e), "invalid_charge message: %s" % e)
    try:
        omise.Charge.retrieve("chrg_test_5zzzzzzzzzzzzzzzzzz")
        check(False, "an unknown charge must fail")
    except omise.errors.NotFoundError:
        pass


if __name__ == "__main__":
    flow()
    print("python flow ok")
