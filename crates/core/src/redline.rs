//! The redline shown before re-signing: a word-level comparison of the version the person
//! last signed with the one in front of them, as escaped HTML with `<ins>` and `<del>`.
//! Screen readers do not announce those elements, so each change also carries hidden words.

use similar::{ChangeTag, TextDiff};

use crate::markdown::escape;

/// Counts of changed words, for the summary line above the redline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RedlineStats {
    pub inserted: usize,
    pub deleted: usize,
}

/// HTML for a `white-space: pre-wrap` block showing `old` → `new`.
pub fn redline_html(old: &str, new: &str) -> (String, RedlineStats) {
    let diff = TextDiff::configure().diff_words(old, new);
    let mut html = String::new();
    let mut stats = RedlineStats::default();
    let mut open: Option<ChangeTag> = None;
    let close = |html: &mut String, tag: Option<ChangeTag>| match tag {
        Some(ChangeTag::Insert) => html.push_str("</ins>"),
        Some(ChangeTag::Delete) => html.push_str("</del>"),
        _ => {}
    };
    for change in diff.iter_all_changes() {
        let tag = change.tag();
        if open != Some(tag) {
            close(&mut html, open);
            match tag {
                ChangeTag::Insert => {
                    html.push_str("<ins><span class=\"visually-hidden\">added: </span>");
                }
                ChangeTag::Delete => {
                    html.push_str("<del><span class=\"visually-hidden\">removed: </span>");
                }
                ChangeTag::Equal => {}
            }
            open = Some(tag);
        }
        let value = change.value();
        if !value.trim().is_empty() {
            match tag {
                ChangeTag::Insert => stats.inserted += 1,
                ChangeTag::Delete => stats.deleted += 1,
                ChangeTag::Equal => {}
            }
        }
        html.push_str(&escape(value));
    }
    close(&mut html, open);
    (html, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_words_are_marked_and_escaped() {
        let (html, stats) = redline_html(
            "- I will not use <b> tags.\n",
            "- I will never use <b> tags.\n",
        );
        assert!(
            html.contains("<del><span class=\"visually-hidden\">removed: </span>not</del>"),
            "{html}"
        );
        assert!(
            html.contains("<ins><span class=\"visually-hidden\">added: </span>never</ins>"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;"));
        assert_eq!(
            stats,
            RedlineStats {
                inserted: 1,
                deleted: 1
            }
        );
    }

    #[test]
    fn identical_texts_have_no_changes() {
        let (html, stats) = redline_html("same\n", "same\n");
        assert_eq!(html, "same\n");
        assert_eq!(stats, RedlineStats::default());
    }
}
