//! Delivery through a real SMTP server (Postfix's smtp-sink on 127.0.0.1), from a real
//! outbox on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod delivery;

undersign_store_contract::db_tests! {
    delivery: [
        a_queued_message_arrives_once_with_its_recipient_body_attachment_and_id,
        two_workers_on_one_database_send_two_hundred_messages_each_exactly_once,
        a_refused_connection_is_retried_later_with_the_error_recorded,
        a_permanent_refusal_is_given_up_at_once,
        a_woken_worker_sends_at_once_and_a_signed_reminder_is_never_sent,
    ],
}
