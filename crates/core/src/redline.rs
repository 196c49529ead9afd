//! The redline shown before re-signing and beside a draft: what changed between two
//! versions as a reader sees them. It compares the rendered text (headings, numbered
//! statements, paragraphs; see [`crate::markdown::Block`]), never the markdown source, so
//! markup and spacing that do not show are no change. Only the changed parts are shown,
//! each with one unchanged neighbour either side and a note standing for what is left out.

use similar::{Algorithm, ChangeTag, DiffOp, TextDiff, capture_diff_slices};

use crate::markdown::{Block, BlockKind, MarkdownError, render_policy};

/// Counts of changed words, for the summary line above the redline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RedlineStats {
    pub inserted: usize,
    pub deleted: usize,
}

/// What happened to one part of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockChange {
    Unchanged,
    Changed,
    Added,
    Removed,
}

impl BlockChange {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockChange::Unchanged => "unchanged",
            BlockChange::Changed => "changed",
            BlockChange::Added => "added",
            BlockChange::Removed => "removed",
        }
    }
}

/// Whether a run of words is in both versions, only the new one, or only the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunChange {
    Same,
    Added,
    Removed,
}

/// Consecutive words with the same fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub change: RunChange,
    pub text: String,
}

/// A part of the text shown in the redline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownBlock {
    /// What the part is, e.g. "Statement 4" or "Statement 4 (was 3)".
    pub label: String,
    pub change: BlockChange,
    pub runs: Vec<Run>,
}

/// One line of the redline: a part of the text, or a note for unchanged parts left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Shown(ShownBlock),
    Skipped(String),
}

/// The changes from one version's text to another's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redline {
    /// Empty when nothing a reader sees has changed.
    pub parts: Vec<Part>,
    pub stats: RedlineStats,
}

/// Compares two policy texts as rendered. Fails only if one of them does not render.
pub fn redline(old_md: &str, new_md: &str) -> Result<Redline, MarkdownError> {
    let old = render_policy(old_md)?.blocks;
    let new = render_policy(new_md)?.blocks;
    Ok(compare(&old, &new))
}

/// How many unchanged parts are shown either side of a change.
const CONTEXT: usize = 1;

/// The largest replaced stretch (old parts × new parts) whose parts are paired up as
/// "changed"; a larger one is shown as removed, then added.
const MAX_PAIRING_CELLS: usize = 10_000;

/// Compares two texts given as their blocks.
pub fn compare(old: &[Block], new: &[Block]) -> Redline {
    let steps = align(old, new);
    let changed: Vec<bool> = steps.iter().map(|s| !matches!(s, Step::Same(..))).collect();
    let mut redline = Redline::default();
    if !changed.contains(&true) {
        return redline;
    }
    let near_change = |i: usize| {
        let from = i.saturating_sub(CONTEXT);
        let to = (i + CONTEXT).min(steps.len() - 1);
        changed[from..=to].contains(&true)
    };
    let mut hidden: Vec<Step> = Vec::new();
    for (i, &step) in steps.iter().enumerate() {
        if matches!(step, Step::Same(..)) && !near_change(i) {
            hidden.push(step);
            continue;
        }
        flush_hidden(&mut redline, &mut hidden, old, new);
        let shown = show(step, old, new, &mut redline.stats);
        redline.parts.push(Part::Shown(shown));
    }
    flush_hidden(&mut redline, &mut hidden, old, new);
    redline
}

/// One block's fate: in both texts unchanged, paired as changed, only in the new text,
/// or only in the old one (by index in each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Same(usize, usize),
    Changed(usize, usize),
    Added(usize),
    Removed(usize),
}

/// What a block is, without its number: renumbering alone is no change.
fn class(kind: BlockKind) -> u8 {
    match kind {
        BlockKind::Heading => 0,
        BlockKind::Statement(_) => 1,
        BlockKind::Paragraph => 2,
    }
}

fn align(old: &[Block], new: &[Block]) -> Vec<Step> {
    let key = |b: &Block| (class(b.kind), b.text.clone());
    let old_keys: Vec<_> = old.iter().map(key).collect();
    let new_keys: Vec<_> = new.iter().map(key).collect();
    let mut steps = Vec::new();
    for op in capture_diff_slices(Algorithm::Patience, &old_keys, &new_keys) {
        match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => steps.extend((0..len).map(|k| Step::Same(old_index + k, new_index + k))),
            DiffOp::Delete {
                old_index, old_len, ..
            } => steps.extend((old_index..old_index + old_len).map(Step::Removed)),
            DiffOp::Insert {
                new_index, new_len, ..
            } => steps.extend((new_index..new_index + new_len).map(Step::Added)),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => steps.extend(pair_up(
                old,
                old_index..old_index + old_len,
                new,
                new_index..new_index + new_len,
            )),
        }
    }
    steps
}

/// Whether two blocks are one part of the text reworded rather than one removed and
/// another added: the same kind, and at least half their words in common.
fn alike(a: &Block, b: &Block) -> bool {
    class(a.kind) == class(b.kind)
        && TextDiff::configure()
            .algorithm(Algorithm::Myers)
            .diff_words(&a.text, &b.text)
            .ratio()
            >= 0.5
}

/// Pairs the blocks of a replaced stretch in order (the longest chain of alike pairs);
/// the rest are removed or added.
fn pair_up(
    old: &[Block],
    olds: std::ops::Range<usize>,
    new: &[Block],
    news: std::ops::Range<usize>,
) -> Vec<Step> {
    let (m, n) = (olds.len(), news.len());
    let mut steps = Vec::with_capacity(m + n);
    if m * n > MAX_PAIRING_CELLS {
        steps.extend(olds.map(Step::Removed));
        steps.extend(news.map(Step::Added));
        return steps;
    }
    // best[i][j]: the most pairs among old[i..] and new[j..].
    let like: Vec<Vec<bool>> = olds
        .clone()
        .map(|i| news.clone().map(|j| alike(&old[i], &new[j])).collect())
        .collect();
    let mut best = vec![vec![0usize; n + 1]; m + 1];
    for i in (0..m).rev() {
        for j in (0..n).rev() {
            best[i][j] = if like[i][j] {
                best[i + 1][j + 1] + 1
            } else {
                best[i + 1][j].max(best[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < m || j < n {
        if i < m && j < n && like[i][j] && best[i][j] == best[i + 1][j + 1] + 1 {
            steps.push(Step::Changed(olds.start + i, news.start + j));
            i += 1;
            j += 1;
        } else if i < m && (j == n || best[i + 1][j] >= best[i][j + 1]) {
            steps.push(Step::Removed(olds.start + i));
            i += 1;
        } else {
            steps.push(Step::Added(news.start + j));
            j += 1;
        }
    }
    steps
}

fn label(kind: BlockKind, was: Option<BlockKind>) -> String {
    match (kind, was) {
        (BlockKind::Statement(n), Some(BlockKind::Statement(w))) if n != w => {
            format!("Statement {n} (was {w})")
        }
        (BlockKind::Statement(n), _) => format!("Statement {n}"),
        (BlockKind::Heading, _) => "Heading".into(),
        (BlockKind::Paragraph, _) => "Paragraph".into(),
    }
}

fn whole(change: RunChange, text: &str) -> Vec<Run> {
    vec![Run {
        change,
        text: text.to_string(),
    }]
}

fn show(step: Step, old: &[Block], new: &[Block], stats: &mut RedlineStats) -> ShownBlock {
    match step {
        Step::Same(o, n) => ShownBlock {
            label: label(new[n].kind, Some(old[o].kind)),
            change: BlockChange::Unchanged,
            runs: whole(RunChange::Same, &new[n].text),
        },
        Step::Changed(o, n) => ShownBlock {
            label: label(new[n].kind, Some(old[o].kind)),
            change: BlockChange::Changed,
            runs: word_runs(&old[o].text, &new[n].text, stats),
        },
        Step::Added(n) => {
            stats.inserted += new[n].text.split_whitespace().count();
            ShownBlock {
                label: label(new[n].kind, None),
                change: BlockChange::Added,
                runs: whole(RunChange::Added, &new[n].text),
            }
        }
        Step::Removed(o) => {
            stats.deleted += old[o].text.split_whitespace().count();
            let label = match old[o].kind {
                BlockKind::Statement(n) => format!("Former statement {n}"),
                kind => label(kind, None),
            };
            ShownBlock {
                label,
                change: BlockChange::Removed,
                runs: whole(RunChange::Removed, &old[o].text),
            }
        }
    }
}

/// The word-level changes within one reworded block. Words changed together (with only
/// spaces between them) make one removed run followed by one added run, so that a
/// reworded phrase reads as a phrase.
fn word_runs(old: &str, new: &str, stats: &mut RedlineStats) -> Vec<Run> {
    let diff = TextDiff::configure().diff_words(old, new);
    let mut runs = Runs::default();
    for change in diff.iter_all_changes() {
        let value = change.value();
        let blank = value.trim().is_empty();
        match change.tag() {
            ChangeTag::Equal if blank && runs.changing() => runs.gap.push_str(value),
            ChangeTag::Equal => {
                runs.flush();
                runs.push(RunChange::Same, value);
            }
            ChangeTag::Insert => {
                stats.inserted += usize::from(!blank);
                runs.change(RunChange::Added, value);
            }
            ChangeTag::Delete => {
                stats.deleted += usize::from(!blank);
                runs.change(RunChange::Removed, value);
            }
        }
    }
    runs.flush();
    runs.done
}

/// Runs being built: those done, and the stretch of changes still open.
#[derive(Default)]
struct Runs {
    done: Vec<Run>,
    removed: String,
    added: String,
    /// Spaces inside an open stretch, kept until we know whether the stretch goes on.
    gap: String,
}

impl Runs {
    fn changing(&self) -> bool {
        !(self.removed.is_empty() && self.added.is_empty())
    }

    fn push(&mut self, change: RunChange, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.done.last_mut() {
            Some(last) if last.change == change => last.text.push_str(text),
            _ => self.done.push(Run {
                change,
                text: text.to_string(),
            }),
        }
    }

    fn change(&mut self, change: RunChange, value: &str) {
        let gap = std::mem::take(&mut self.gap);
        for text in [&mut self.removed, &mut self.added] {
            if !text.is_empty() {
                text.push_str(&gap);
            }
        }
        match change {
            RunChange::Added => self.added.push_str(value),
            _ => self.removed.push_str(value),
        }
    }

    /// Closes the open stretch: the removed words, then the added ones, with the spaces
    /// around them left unmarked.
    fn flush(&mut self) {
        let removed = std::mem::take(&mut self.removed);
        let added = std::mem::take(&mut self.added);
        let gap = std::mem::take(&mut self.gap);
        let edge = |f: fn(&str) -> &str| {
            [&removed, &added]
                .iter()
                .any(|t| f(t.as_str()).len() != t.len())
        };
        if edge(str::trim_start) {
            self.push(RunChange::Same, " ");
        }
        self.push(RunChange::Removed, removed.trim());
        self.push(RunChange::Added, added.trim());
        if edge(str::trim_end) && gap.is_empty() {
            self.push(RunChange::Same, " ");
        }
        self.push(RunChange::Same, &gap);
    }
}

/// Adds the note for the unchanged blocks left out, or shows a lone one instead (a note
/// would take as much room as the block).
fn flush_hidden(redline: &mut Redline, hidden: &mut Vec<Step>, old: &[Block], new: &[Block]) {
    match hidden.as_slice() {
        [] => {}
        [lone] => {
            let shown = show(*lone, old, new, &mut redline.stats);
            redline.parts.push(Part::Shown(shown));
        }
        many => {
            let blocks: Vec<&Block> = many
                .iter()
                .filter_map(|s| match s {
                    Step::Same(_, n) => new.get(*n),
                    _ => None,
                })
                .collect();
            redline.parts.push(Part::Skipped(skipped_note(&blocks)));
        }
    }
    hidden.clear();
}

/// "Unchanged and not shown: statements 1 to 14, 1 heading and 2 paragraphs."
fn skipped_note(hidden: &[&Block]) -> String {
    let numbers: Vec<u32> = hidden
        .iter()
        .filter_map(|b| match b.kind {
            BlockKind::Statement(n) => Some(n),
            _ => None,
        })
        .collect();
    let count = |kind: BlockKind| hidden.iter().filter(|b| b.kind == kind).count();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut pieces = Vec::new();
    match (numbers.first(), numbers.last()) {
        (Some(first), Some(last)) if first == last => pieces.push(format!("statement {first}")),
        (Some(first), Some(last)) => pieces.push(format!("statements {first} to {last}")),
        _ => {}
    }
    let headings = count(BlockKind::Heading);
    if headings > 0 {
        pieces.push(plural(headings, "heading", "headings"));
    }
    let paragraphs = count(BlockKind::Paragraph);
    if paragraphs > 0 {
        pieces.push(plural(paragraphs, "paragraph", "paragraphs"));
    }
    let list = match pieces.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => pieces.join(""),
    };
    format!("Unchanged and not shown: {list}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(r: &Redline) -> Vec<(String, BlockChange)> {
        r.parts
            .iter()
            .filter_map(|p| match p {
                Part::Shown(b) => Some((b.label.clone(), b.change)),
                Part::Skipped(_) => None,
            })
            .collect()
    }

    fn runs_of(r: &Redline, label: &str) -> Vec<(RunChange, String)> {
        r.parts
            .iter()
            .find_map(|p| match p {
                Part::Shown(b) if b.label == label => {
                    Some(b.runs.iter().map(|r| (r.change, r.text.clone())).collect())
                }
                _ => None,
            })
            .unwrap_or_default()
    }

    const TEN: &str = "## Rules\n\n- I will follow rule one.\n- I will follow rule two.\n- I will follow rule three.\n- I will follow rule four.\n- I will follow rule five.\n- I will follow rule six.\n- I will follow rule seven.\n- I will follow rule eight.\n- I will follow rule nine.\n- I will follow rule ten.\n";

    #[test]
    fn a_reworded_statement_is_shown_with_its_number_and_one_neighbour_either_side() {
        let new = TEN.replace("will follow rule five.", "will **always** follow rule 5.");
        let r = redline(TEN, &new).unwrap();
        assert_eq!(
            shown(&r),
            vec![
                ("Statement 4".to_string(), BlockChange::Unchanged),
                ("Statement 5".to_string(), BlockChange::Changed),
                ("Statement 6".to_string(), BlockChange::Unchanged),
            ]
        );
        assert_eq!(
            r.parts.first(),
            Some(&Part::Skipped(
                "Unchanged and not shown: statements 1 to 3 and 1 heading.".into()
            ))
        );
        assert_eq!(
            r.parts.last(),
            Some(&Part::Skipped(
                "Unchanged and not shown: statements 7 to 10.".into()
            ))
        );
        assert_eq!(
            runs_of(&r, "Statement 5"),
            vec![
                (RunChange::Same, "I will ".into()),
                (RunChange::Added, "always".into()),
                (RunChange::Same, " follow rule ".into()),
                (RunChange::Removed, "five.".into()),
                (RunChange::Added, "5.".into()),
            ]
        );
        assert_eq!(
            r.stats,
            RedlineStats {
                inserted: 2,
                deleted: 1
            }
        );
    }

    #[test]
    fn markup_and_spacing_that_do_not_show_are_no_change() {
        let old = "\n\n## Rules\n\n- I will *not* share passwords.\n";
        let new = "## Rules\n\n-   I will _not_ share\n    passwords.\n";
        assert_eq!(redline(old, new).unwrap(), Redline::default());
    }

    #[test]
    fn no_markup_reaches_the_redline() {
        let r = redline(
            "## Our old rules\n\n- A.\n",
            "## Our **new** rules\n\n- A.\n",
        )
        .unwrap();
        assert_eq!(
            runs_of(&r, "Heading"),
            vec![
                (RunChange::Same, "Our ".into()),
                (RunChange::Removed, "old".into()),
                (RunChange::Added, "new".into()),
                (RunChange::Same, " rules".into()),
            ]
        );
    }

    #[test]
    fn an_added_and_a_removed_statement_keep_their_own_numbers() {
        let new = TEN.replace("- I will follow rule two.\n", "").replace(
            "- I will follow rule nine.\n",
            "- I will follow rule nine.\n- I will lock my screen when I leave it.\n",
        );
        let r = redline(TEN, &new).unwrap();
        assert_eq!(
            shown(&r),
            vec![
                ("Heading".to_string(), BlockChange::Unchanged),
                ("Statement 1".to_string(), BlockChange::Unchanged),
                ("Former statement 2".to_string(), BlockChange::Removed),
                ("Statement 2 (was 3)".to_string(), BlockChange::Unchanged),
                ("Statement 8 (was 9)".to_string(), BlockChange::Unchanged),
                ("Statement 9".to_string(), BlockChange::Added),
                ("Statement 10".to_string(), BlockChange::Unchanged),
            ]
        );
        assert_eq!(
            r.parts[4],
            Part::Skipped("Unchanged and not shown: statements 3 to 7.".into())
        );
        assert_eq!(
            r.stats,
            RedlineStats {
                inserted: 9,
                deleted: 5
            }
        );
    }

    #[test]
    fn a_statement_rewritten_entirely_is_removed_and_added_not_paired() {
        let old = "- I will not share passwords.\n";
        let new = "- Visitors wear a badge at all times.\n";
        let r = redline(old, new).unwrap();
        assert_eq!(
            shown(&r),
            vec![
                ("Former statement 1".to_string(), BlockChange::Removed),
                ("Statement 1".to_string(), BlockChange::Added),
            ]
        );
    }

    #[test]
    fn identical_texts_have_no_changes() {
        assert_eq!(redline(TEN, TEN).unwrap(), Redline::default());
    }
}
