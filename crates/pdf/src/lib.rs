//! Undersign's PDF documents: a receipt for each signature, an evidence pack per person and
//! a school's compliance report, typeset with typst as a library.
//!
//! Each document is a `.typ` template in `templates/` that reads its data from a virtual
//! `/data.json`; names, policy text and every other value stay JSON data and are never
//! spliced into typst markup, so a name like `#panic()` prints as written. Policy markdown
//! becomes plain-text blocks first ([`blocks`]). Fonts are built into the binary (see
//! [`world`]); nothing is read from disk or the network, and a document's only dates are
//! the ones in its data, so the same data always gives the same bytes.
//!
//! A receipt PDF from [`receipt`] is not sealed: the caller seals it with
//! `undersign_core::receipt::seal` and the school's key.

pub mod blocks;
pub mod compliance;
pub mod disclosure;
pub mod evidence;
mod receipt;
mod world;

pub use compliance::{ChainStatus, CheckpointInfo, ComplianceReport, compliance_report};
pub use disclosure::disclosure_log;
pub use evidence::{EvidencePack, PersonEvent, SignedVersion, evidence_pack};
pub use receipt::{ReceiptShows, ShownMark, receipt, receipt_for_site, visit_receipt_for_site};

/// Why a document could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// The data could not be encoded for the template (a programming error).
    #[error("cannot prepare the document's data: {0}")]
    Data(String),
    /// The template failed to compile; the message names the template line.
    #[error("cannot typeset the document: {0}")]
    Template(String),
    /// An evidence pack was given a policy text that is not the one signed.
    #[error(
        "the text given for {title} version {number} is not the text that was signed: its SHA-256 is {actual}, the signature's is {expected}"
    )]
    TextMismatch {
        title: String,
        number: i32,
        expected: String,
        actual: String,
    },
}

/// Title and author written into the PDF's metadata.
#[derive(Debug, Clone, serde::Serialize)]
struct Meta {
    title: String,
    author: String,
}
