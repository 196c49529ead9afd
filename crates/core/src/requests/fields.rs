//! The questions each kind of request asks: its form, field by field.

/// What a question expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Line,
    /// Several lines.
    Text,
    /// A day, `YYYY-MM-DD`.
    Date,
    /// A statement number of the policy (1, 2 …).
    Statement,
}

/// When a question must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// Before the request can be submitted.
    ToSubmit,
    /// Before it can be approved (a safety checklist): it can be submitted without it,
    /// and the decider can ask for it.
    ToApprove,
    /// Never.
    Optional,
}

/// One question of a request's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub kind: FieldKind,
    pub needed: Needed,
}

const fn field(
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    kind: FieldKind,
    needed: Needed,
) -> Field {
    Field {
        name,
        label,
        hint,
        kind,
        needed,
    }
}

use FieldKind::{Date, Line, Statement, Text};
use Needed::{Optional, ToApprove, ToSubmit};

pub(super) const INSTALL: &[Field] = &[
    field(
        "item",
        "What do you want to install?",
        "The product and, for software, its version (for example \"Audacity 3.4\" or \"a USB visualiser\").",
        Line,
        ToSubmit,
    ),
    field("purpose", "What is it for?", "", Text, ToSubmit),
    field("where", "Which computers or rooms?", "", Line, Optional),
    field(
        "source",
        "Where does it come from?",
        "A supplier or web address.",
        Line,
        Optional,
    ),
    field(
        "data",
        "What personal data does it hold or send?",
        "Pupils' or staff names, photos, work … or \"none\".",
        Text,
        Optional,
    ),
];

pub(super) const IMAGE_POSTING: &[Field] = &[
    field(
        "what",
        "What do the photos or videos show?",
        "",
        Text,
        ToSubmit,
    ),
    field(
        "where",
        "Where will they be posted?",
        "The site, page or account.",
        Line,
        ToSubmit,
    ),
    field(
        "who",
        "Who is in them?",
        "Colleagues, pupils (by class is enough here: consent is checked when you publish).",
        Text,
        Optional,
    ),
    field("when", "When will they be posted?", "", Date, Optional),
];

pub(super) const CLOSED_SPACE: &[Field] = &[
    field("platform", "Which blog or platform?", "", Line, ToSubmit),
    field(
        "purpose",
        "What is it for in the curriculum?",
        "",
        Text,
        ToSubmit,
    ),
    field(
        "who_can_join",
        "Who can join, and how are they let in?",
        "Part of the safety checklist: needed before it can be approved.",
        Text,
        ToApprove,
    ),
    field(
        "moderation",
        "Who moderates it, and how?",
        "Part of the safety checklist: needed before it can be approved.",
        Text,
        ToApprove,
    ),
    field(
        "pupil_ages",
        "How old are the pupils who will use it?",
        "Part of the safety checklist: needed before it can be approved.",
        Line,
        ToApprove,
    ),
    field(
        "end_date",
        "When will it close?",
        "Part of the safety checklist: needed before it can be approved.",
        Date,
        ToApprove,
    ),
];

pub(super) const PARENT_CONTACT: &[Field] = &[
    field(
        "parent",
        "Whose request is it?",
        "The parent's or carer's name and the site.",
        Line,
        ToSubmit,
    ),
    field(
        "relationship",
        "How do you know them outside school?",
        "",
        Text,
        ToSubmit,
    ),
];

pub(super) const EMERGENCY_PHONE: &[Field] = &[
    field(
        "reason",
        "Why do you need your phone with you?",
        "",
        Text,
        ToSubmit,
    ),
    field("from", "From", "", Date, ToSubmit),
    field(
        "until",
        "Until",
        "Leave empty if you do not know yet.",
        Date,
        Optional,
    ),
];

pub(super) const REASONABLE_USE: &[Field] = &[
    field(
        "question",
        "What use are you asking about?",
        "",
        Text,
        ToSubmit,
    ),
    field(
        "statement",
        "Which statement of the policy does it concern?",
        "Its number, if you know it.",
        Statement,
        Optional,
    ),
];
