//! Policy markdown as a list of plain-text blocks for the templates: headings, paragraphs,
//! list items (top-level items carry their statement number, counted as
//! `undersign_core::markdown` counts them), quotes, code, rules and tables. Text stays
//! data from here to the PDF; it is never turned into typst markup.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;

/// A run of text with its emphasis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub text: String,
    #[serde(skip_serializing_if = "is_false")]
    pub strong: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub emph: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub code: bool,
    /// A hard line break (its `text` is empty).
    #[serde(skip_serializing_if = "is_false")]
    pub linebreak: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One block of policy text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Heading {
        level: u8,
        spans: Vec<Span>,
    },
    /// A paragraph; `indent` is the list depth it sits in (0 outside lists).
    Paragraph {
        indent: u8,
        spans: Vec<Span>,
    },
    /// A list item. Top-level items are the policy's numbered statements (`statement`
    /// set, `marker` "N."); nested items have a bullet or their list number.
    Item {
        depth: u8,
        marker: String,
        statement: Option<u32>,
        spans: Vec<Span>,
    },
    Quote {
        spans: Vec<Span>,
    },
    Code {
        text: String,
    },
    Rule,
    Table {
        columns: usize,
        /// The first row is the header.
        rows: Vec<Vec<Vec<Span>>>,
    },
}

#[derive(Default)]
struct Style {
    strong: u32,
    emph: u32,
}

/// A block being filled with text.
enum Open {
    None,
    Heading(u8),
    Paragraph(u8),
    Item {
        depth: u8,
        marker: String,
        statement: Option<u32>,
    },
    Quote,
}

struct Builder {
    blocks: Vec<Block>,
    open: Open,
    spans: Vec<Span>,
    style: Style,
    /// For each open list: the next number, or `None` for a bullet list.
    lists: Vec<Option<u64>>,
    statements: u32,
    quote_depth: u32,
    code: Option<String>,
    table: Option<(usize, Vec<Vec<Vec<Span>>>)>,
    link_dest: Vec<String>,
}

impl Builder {
    fn push_text(&mut self, text: &str, code: bool) {
        if text.is_empty() {
            return;
        }
        if let Some(buf) = self.code.as_mut() {
            buf.push_str(text);
            return;
        }
        let span = Span {
            text: text.to_string(),
            strong: self.style.strong > 0,
            emph: self.style.emph > 0,
            code,
            linebreak: false,
        };
        match self.spans.last_mut() {
            Some(last)
                if !last.linebreak
                    && (last.strong, last.emph, last.code) == (span.strong, span.emph, code) =>
            {
                last.text.push_str(text);
            }
            _ => self.spans.push(span),
        }
    }

    fn linebreak(&mut self) {
        self.spans.push(Span {
            text: String::new(),
            strong: false,
            emph: false,
            code: false,
            linebreak: true,
        });
    }

    /// Ends the open block (if it holds anything, or is an item with its marker).
    fn close(&mut self) {
        let spans = std::mem::take(&mut self.spans);
        let open = std::mem::replace(&mut self.open, Open::None);
        if let Some((_, rows)) = self.table.as_mut() {
            if let Some(row) = rows.last_mut() {
                row.push(spans);
            }
            return;
        }
        let block = match open {
            Open::None if spans.is_empty() => return,
            Open::None => Block::Paragraph {
                indent: self.depth(),
                spans,
            },
            Open::Heading(level) => Block::Heading { level, spans },
            Open::Paragraph(_) | Open::Quote if spans.is_empty() => return,
            Open::Paragraph(indent) => Block::Paragraph { indent, spans },
            Open::Quote => Block::Quote { spans },
            Open::Item {
                depth,
                marker,
                statement,
            } => Block::Item {
                depth,
                marker,
                statement,
                spans,
            },
        };
        self.blocks.push(block);
    }

    fn depth(&self) -> u8 {
        u8::try_from(self.lists.len()).unwrap_or(u8::MAX)
    }

    fn start_item(&mut self) {
        self.close();
        let depth = self.depth().saturating_sub(1);
        let (marker, statement) = if depth == 0 {
            self.statements += 1;
            (format!("{}.", self.statements), Some(self.statements))
        } else {
            match self.lists.last_mut() {
                Some(Some(n)) => {
                    let marker = format!("{n}.");
                    *n += 1;
                    (marker, None)
                }
                _ => ("•".to_string(), None),
            }
        };
        self.open = Open::Item {
            depth,
            marker,
            statement,
        };
    }

    fn start_paragraph(&mut self) {
        // The first paragraph of an item is the item's own text.
        if let Open::Item { .. } = self.open
            && self.spans.is_empty()
        {
            return;
        }
        if self.quote_depth > 0 {
            self.close();
            self.open = Open::Quote;
            return;
        }
        self.close();
        self.open = Open::Paragraph(self.depth());
    }
}

/// Splits policy markdown into blocks. Markdown is parsed as `undersign_core::markdown`
/// parses it (tables on); raw HTML, which that module refuses at publication, is kept as
/// literal text here.
pub fn policy_blocks(markdown: &str) -> Vec<Block> {
    let mut b = Builder {
        blocks: Vec::new(),
        open: Open::None,
        spans: Vec::new(),
        style: Style::default(),
        lists: Vec::new(),
        statements: 0,
        quote_depth: 0,
        code: None,
        table: None,
        link_dest: Vec::new(),
    };
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                b.close();
                b.open = Open::Heading(level as u8);
            }
            Event::Start(Tag::Paragraph) => b.start_paragraph(),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_)) => b.close(),
            Event::Start(Tag::List(first)) => {
                b.close();
                b.lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                b.close();
                b.lists.pop();
            }
            Event::Start(Tag::Item) => b.start_item(),
            Event::End(TagEnd::Item) => b.close(),
            Event::Start(Tag::BlockQuote(_)) => {
                b.close();
                b.quote_depth += 1;
            }
            Event::End(TagEnd::BlockQuote(_)) => {
                b.close();
                b.quote_depth = b.quote_depth.saturating_sub(1);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                b.close();
                b.code = Some(String::new());
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(text) = b.code.take() {
                    b.blocks.push(Block::Code {
                        text: text.trim_end_matches('\n').to_string(),
                    });
                }
            }
            Event::Start(Tag::Table(aligns)) => {
                b.close();
                b.table = Some((aligns.len(), Vec::new()));
            }
            Event::End(TagEnd::Table) => {
                if let Some((columns, rows)) = b.table.take() {
                    b.blocks.push(Block::Table { columns, rows });
                }
            }
            Event::Start(Tag::TableHead | Tag::TableRow) => {
                if let Some((_, rows)) = b.table.as_mut() {
                    rows.push(Vec::new());
                }
            }
            Event::End(TagEnd::TableCell) => b.close(),
            Event::Start(Tag::Strong) => b.style.strong += 1,
            Event::End(TagEnd::Strong) => b.style.strong = b.style.strong.saturating_sub(1),
            Event::Start(Tag::Emphasis) => b.style.emph += 1,
            Event::End(TagEnd::Emphasis) => b.style.emph = b.style.emph.saturating_sub(1),
            Event::Start(Tag::Link { dest_url, .. }) => b.link_dest.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                // Show where a link goes unless its text already says so.
                if let Some(dest) = b.link_dest.pop() {
                    let shown: String = b.spans.iter().map(|s| s.text.as_str()).collect();
                    let bare = dest.strip_prefix("mailto:").unwrap_or(&dest);
                    if !shown.ends_with(bare) {
                        b.push_text(&format!(" ({bare})"), false);
                    }
                }
            }
            Event::Text(text) => b.push_text(&text, false),
            Event::Code(text) => b.push_text(&text, true),
            Event::Html(text) | Event::InlineHtml(text) => b.push_text(&text, false),
            Event::SoftBreak => b.push_text(" ", false),
            Event::HardBreak => b.linebreak(),
            Event::Rule => {
                b.close();
                b.blocks.push(Block::Rule);
            }
            Event::TaskListMarker(done) => b.push_text(if done { "[x] " } else { "[ ] " }, false),
            Event::FootnoteReference(label) => b.push_text(&format!("[{label}]"), false),
            _ => {}
        }
    }
    b.close();
    b.blocks
}

/// The plain text of some spans.
pub fn plain(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| if s.linebreak { " " } else { s.text.as_str() })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_numbered_as_the_policy_page_numbers_them() {
        let md = include_str!("../../../demo/acceptable-use-policy.md");
        let ours: Vec<(u32, String)> = policy_blocks(md)
            .into_iter()
            .filter_map(|b| match b {
                Block::Item {
                    statement: Some(n),
                    spans,
                    ..
                } => Some((n, plain(&spans))),
                _ => None,
            })
            .collect();
        let theirs = undersign_core::markdown::render_policy(md)
            .unwrap()
            .statements;
        assert_eq!(ours.len(), theirs.len());
        for ((n, text), s) in ours.iter().zip(&theirs) {
            assert_eq!(*n, s.number);
            assert_eq!(
                undersign_core::person::collapse_spaces(text),
                s.text,
                "statement {n}"
            );
        }
    }

    #[test]
    fn headings_paragraphs_nested_items_and_emphasis_are_kept() {
        let md = "# Title\n\nIntro with **bold** and *it*.\n\n- One\n  1. sub a\n  2. sub b\n- Two\n\n  More about two.\n\n> Quoted\n\n```\ncode line\n```\n\n---\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n[council](https://example.org/x)\n";
        let blocks = policy_blocks(md);
        assert_eq!(
            blocks[0],
            Block::Heading {
                level: 1,
                spans: vec![Span {
                    text: "Title".into(),
                    strong: false,
                    emph: false,
                    code: false,
                    linebreak: false
                }]
            }
        );
        let Block::Paragraph { spans, .. } = &blocks[1] else {
            panic!("{:?}", blocks[1])
        };
        assert!(spans.iter().any(|s| s.strong && s.text == "bold"));
        assert!(spans.iter().any(|s| s.emph && s.text == "it"));
        let items: Vec<(u8, String, String)> = blocks
            .iter()
            .filter_map(|b| match b {
                Block::Item {
                    depth,
                    marker,
                    spans,
                    ..
                } => Some((*depth, marker.clone(), plain(spans))),
                _ => None,
            })
            .collect();
        assert_eq!(
            items,
            vec![
                (0, "1.".into(), "One".into()),
                (1, "1.".into(), "sub a".into()),
                (1, "2.".into(), "sub b".into()),
                (0, "2.".into(), "Two".into()),
            ]
        );
        assert!(blocks.contains(&Block::Paragraph {
            indent: 1,
            spans: vec![Span {
                text: "More about two.".into(),
                strong: false,
                emph: false,
                code: false,
                linebreak: false
            }]
        }));
        assert!(
            blocks
                .iter()
                .any(|b| matches!(b, Block::Quote { spans } if plain(spans) == "Quoted"))
        );
        assert!(blocks.contains(&Block::Code {
            text: "code line".into()
        }));
        assert!(blocks.contains(&Block::Rule));
        let table = blocks
            .iter()
            .find_map(|b| match b {
                Block::Table { columns, rows } => Some((*columns, rows.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(table.0, 2);
        assert_eq!(
            table
                .1
                .iter()
                .map(|r| r.iter().map(|c| plain(c)).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            vec![vec!["A", "B"], vec!["1", "2"]]
        );
        let Some(Block::Paragraph { spans, .. }) = blocks.last() else {
            panic!()
        };
        assert_eq!(plain(spans), "council (https://example.org/x)");
    }
}
