#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The PDF documents, checked as a reader sees them: valid PDF, the right text (read back
//! with `pdftotext` from poppler-utils), hostile names printed literally, long policies
//! paginated, and receipts that still verify once sealed.

mod compliance;
mod evidence;
mod receipt;
mod support;
