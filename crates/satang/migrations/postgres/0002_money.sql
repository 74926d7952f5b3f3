-- Refunds, the merchant's ledger, and balances per account, mode and currency.

create table refunds (
    seq         bigserial primary key,
    id          text not null unique,
    account_id  text not null,
    livemode    boolean not null,
    charge_id   text not null,
    created_at  bigint not null,
    doc         text not null              -- RefundRecord as JSON
);
create index refunds_by_scope on refunds (account_id, livemode, seq);
create index refunds_by_charge on refunds (charge_id, seq);

-- Every entry points at exactly one charge (a payment's credit) or one refund (its debit).
create table ledger (
    seq         bigserial primary key,
    id          text not null unique,
    account_id  text not null,
    livemode    boolean not null,
    direction   text not null check (direction in ('credit', 'debit')),
    amount      bigint not null check (amount >= 0),
    currency    text not null,
    charge_id   text,
    refund_id   text,
    created_at  bigint not null,
    check ((charge_id is null) <> (refund_id is null))
);
create index ledger_by_scope on ledger (account_id, livemode, seq);

-- Running totals, updated in the transaction that books the entry (bigint overflow fails the transaction).
create table balances (
    account_id  text not null,
    livemode    boolean not null,
    currency    text not null,
    total       bigint not null,
    updated_at  bigint not null,
    primary key (account_id, livemode, currency)
);
