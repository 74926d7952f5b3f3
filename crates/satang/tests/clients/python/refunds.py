"""Refunds as a merchant does them with omise-python: partial refund, list, retrieve, refund the remainder,
and an over-refund rejected. Run by crates/satang/tests/clients.rs against a real `satang serve`."""
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


def main():
    charge = omise.Charge.create(
        amount=100000, currency="THB", source={"type": "alipay"}, return_uri="https://shop.example/r"
    )
    omise.Request(omise.api_secret, omise.api_main, omise.api_version).send(
        "post", ("charges", charge.id, "mark_as_paid"), {}
    )
    charge.reload()
    check(charge.refundable, "a paid charge is refundable")

    # Partial refund: Charge.refund POSTs, then reloads the charge.
    first = charge.refund(amount=40000, metadata={"reason": "one item returned"})
    check(first.id.startswith("rfnd_test_") and first.amount == 40000, "partial refund")
    check(charge.refunded_amount == 40000, "charge shows the refund after reload")

    # List and retrieve (Refund.reload GETs the refund's location).
    listed = list(charge.list_refunds())
    check([r.id for r in listed] == [first.id], "list_refunds")
    check(len(omise.Refund.list()) == 1, "account-wide refunds")
    first.reload()
    check(first.charge == charge.id and first.status == "closed", "retrieve refund")

    # The remainder, exactly.
    rest = charge.refund(amount=60000)
    check(rest.amount == 60000, "remainder refunded")
    check(charge.refunded_amount == 100000 and not charge.refundable, "fully refunded")

    # Over-refund: the client raises its FailedRefundError.
    try:
        charge.refund(amount=1)
        check(False, "an over-refund must fail")
    except omise.errors.FailedRefundError as e:
        check("exceeds the refundable remainder" in str(e), "over-refund message: %s" % e)
    charge.reload()
    check(charge.refunded_amount == 100000, "nothing changed by the refused refund")


if __name__ == "__main__":
    main()
    print("python refunds ok")
