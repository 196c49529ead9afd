//! Email delivery for Undersign: the SMTP settings ([`SmtpSettings`]), the message built
//! from an outbox row ([`build_message`]) and the worker that drains the outbox
//! ([`DeliveryWorker`]).
//!
//! Delivery is at least once, never knowingly twice. A worker claims a message with a
//! lease, hands it to the SMTP server, then records it as sent. If the process dies after
//! the server accepted the message but before `sent_at` is written, the message is sent
//! again once the lease runs out: SMTP has no way to ask a server "did you already take
//! this one?". The window is the time between the server's `250` and one database write,
//! and a repeat carries the same `Message-ID` (derived from the school and outbox id), so
//! a receiving system or a person can recognise it.

mod message;
mod settings;
mod worker;

pub use message::{BuildError, build_message, message_id};
pub use settings::{SettingsError, SmtpSettings, TlsMode};
pub use worker::{DeliveryReport, DeliveryWorker, WorkerOptions};
