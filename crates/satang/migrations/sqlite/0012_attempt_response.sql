-- The delivery log keeps what the receiver answered: the first 512 bytes of its body as text (UTF-8, lossy,
-- control characters other than newline and tab replaced; see webhooks::worker::response_excerpt), null when
-- there was no answer (refused, timed out, not sent). Rows written before this step have none.
alter table webhook_attempts add column response text;
