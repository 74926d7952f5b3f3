-- refund_intents: one row per live refund handed to the acquirer, written (in its own transaction) before
-- the refund call and deleted once the refund is booked or known not to have happened. A row left behind
-- (satang died between the acquirer's refund and the booking, or the outcome was unknown) is resolved by
-- the periodic repair (src/live/refunds.rs) with inquiryRefund. refund_id is the refundRequestId sent.
create table refund_intents (
    refund_id     text primary key,
    charge_id     text not null,
    amount        integer not null,
    metadata      text not null,
    created_at    integer not null,
    next_check_at integer not null,
    lease_until   integer not null default 0
);
create index refund_intents_due on refund_intents (next_check_at);
