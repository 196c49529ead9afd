//! Policy text: markdown with numbered statements, checked strictly and rendered to
//! sanitised HTML. Every top-level list item is a statement, numbered from 1 in document
//! order, so rules and requests can cite "statement 3".
//!
//! Raw HTML, images and links other than http(s)/mailto are refused with the line they
//! are on rather than silently dropped: what the headteacher wrote must be what staff see.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::HashSet;

/// The largest policy text accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 200_000;

/// A problem in policy markdown, with the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct MarkdownError {
    pub line: usize,
    pub message: String,
}

/// One numbered statement, as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub number: u32,
    pub text: String,
}

/// What a top-level part of the text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Heading,
    /// A numbered statement (a top-level list item).
    Statement(u32),
    /// Anything else at the top level: a paragraph, a quotation, a table.
    Paragraph,
}

/// One top-level part of the text as a reader sees it: plain words, no markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    pub text: String,
}

/// Policy text ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPolicy {
    /// Sanitised HTML; statements are `<li id="statement-N">` with a visible number.
    pub html: String,
    pub statements: Vec<Statement>,
    /// The text as headings, statements and paragraphs in document order, for comparing
    /// one version with another.
    pub blocks: Vec<Block>,
}

/// Checks policy markdown and renders it; the first problem found is returned.
pub fn render_policy(markdown: &str) -> Result<RenderedPolicy, MarkdownError> {
    if markdown.trim().is_empty() {
        return Err(MarkdownError {
            line: 1,
            message: "the policy text is empty".into(),
        });
    }
    if markdown.len() > MAX_POLICY_BYTES {
        return Err(MarkdownError {
            line: 1,
            message: format!(
                "the policy text is {} bytes; the most accepted is {MAX_POLICY_BYTES}",
                markdown.len()
            ),
        });
    }
    let line_of = |offset: usize| markdown[..offset].matches('\n').count() + 1;

    let mut events: Vec<Event<'_>> = Vec::new();
    let mut statements = Vec::new();
    let mut list_depth = 0usize;
    let mut current: Option<Statement> = None;
    let mut item_depth_stack: Vec<bool> = Vec::new();
    let mut blocks = BlockCollector::default();

    for (event, range) in Parser::new_ext(markdown, Options::ENABLE_TABLES).into_offset_iter() {
        match &event {
            Event::Html(html) | Event::InlineHtml(html) => {
                return Err(MarkdownError {
                    line: line_of(range.start),
                    message: format!(
                        "HTML is not allowed in policy text (found {:?}); use markdown only",
                        html.trim().chars().take(40).collect::<String>()
                    ),
                });
            }
            Event::Start(Tag::Image { .. }) => {
                return Err(MarkdownError {
                    line: line_of(range.start),
                    message: "images are not allowed in policy text".into(),
                });
            }
            Event::Start(Tag::Link {
                dest_url,
                link_type,
                ..
            }) if !link_is_safe(dest_url, *link_type) => {
                return Err(MarkdownError {
                    line: line_of(range.start),
                    message: format!(
                        "links must start with https://, http:// or mailto: (found {:?})",
                        dest_url.chars().take(40).collect::<String>()
                    ),
                });
            }
            _ => {}
        }
        blocks.take(&event, list_depth, statements.len());

        match event {
            Event::Start(Tag::List(first)) => {
                list_depth += 1;
                events.push(Event::Start(Tag::List(first)));
            }
            Event::End(TagEnd::List(ordered)) => {
                list_depth = list_depth.saturating_sub(1);
                events.push(Event::End(TagEnd::List(ordered)));
            }
            Event::Start(Tag::Item) if list_depth == 1 => {
                let number = u32::try_from(statements.len() + 1).unwrap_or(u32::MAX);
                item_depth_stack.push(true);
                current = Some(Statement {
                    number,
                    text: String::new(),
                });
                events.push(Event::Html(CowStr::from(format!(
                    "<li id=\"statement-{number}\"><span class=\"statement-number\">{number}.</span> "
                ))));
            }
            Event::Start(Tag::Item) => {
                item_depth_stack.push(false);
                events.push(Event::Start(Tag::Item));
            }
            Event::End(TagEnd::Item) => {
                if item_depth_stack.pop() == Some(true)
                    && let Some(mut s) = current.take()
                {
                    s.text = crate::person::collapse_spaces(&s.text);
                    statements.push(s);
                }
                events.push(Event::End(TagEnd::Item));
            }
            Event::Text(text) => {
                if let Some(s) = current.as_mut() {
                    s.text.push_str(&text);
                }
                events.push(Event::Text(text));
            }
            Event::Code(code) => {
                if let Some(s) = current.as_mut() {
                    s.text.push_str(&code);
                }
                events.push(Event::Code(code));
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(s) = current.as_mut() {
                    s.text.push(' ');
                }
                events.push(event);
            }
            other => events.push(other),
        }
    }

    let mut raw_html = String::new();
    pulldown_cmark::html::push_html(&mut raw_html, events.into_iter());
    Ok(RenderedPolicy {
        html: sanitise(&raw_html),
        statements,
        blocks: blocks.finish(),
    })
}

/// Gathers the top-level blocks from the parser's events: each block's words, separated
/// by single spaces wherever the reader sees a break.
#[derive(Default)]
struct BlockCollector {
    blocks: Vec<Block>,
    open: Option<Block>,
    /// How many tags are open outside top-level lists (0: between blocks).
    depth: usize,
}

impl BlockCollector {
    /// Takes one event; `list_depth` and `statements` are as they were before it.
    fn take(&mut self, event: &Event<'_>, list_depth: usize, statements: usize) {
        let in_statement = matches!(
            self.open,
            Some(Block {
                kind: BlockKind::Statement(_),
                ..
            })
        );
        match event {
            // A top-level list is no block itself: each of its items is a statement.
            Event::Start(Tag::List(_)) | Event::End(TagEnd::List(_))
                if self.depth == 0 && !in_statement => {}
            Event::Start(Tag::Item) if self.depth == 0 && list_depth == 1 => {
                let number = u32::try_from(statements + 1).unwrap_or(u32::MAX);
                self.open_block(BlockKind::Statement(number));
            }
            Event::End(TagEnd::Item) if in_statement && list_depth == 1 => self.close(),
            Event::Start(tag) => {
                if !in_statement {
                    if self.depth == 0 {
                        self.open_block(match tag {
                            Tag::Heading { .. } => BlockKind::Heading,
                            _ => BlockKind::Paragraph,
                        });
                    }
                    self.depth += 1;
                }
                if !is_inline(&TagEnd::from(tag.clone())) {
                    self.space();
                }
            }
            Event::End(end) => {
                if !is_inline(end) {
                    self.space();
                }
                if !in_statement {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        self.close();
                    }
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(b) = self.open.as_mut() {
                    b.text.push_str(text);
                }
            }
            Event::SoftBreak | Event::HardBreak => self.space(),
            _ => {}
        }
    }

    fn open_block(&mut self, kind: BlockKind) {
        self.close();
        self.open = Some(Block {
            kind,
            text: String::new(),
        });
    }

    fn space(&mut self) {
        if let Some(b) = self.open.as_mut() {
            b.text.push(' ');
        }
    }

    fn close(&mut self) {
        if let Some(mut b) = self.open.take() {
            b.text = crate::person::collapse_spaces(&b.text);
            if !b.text.is_empty() || matches!(b.kind, BlockKind::Statement(_)) {
                self.blocks.push(b);
            }
        }
    }

    fn finish(mut self) -> Vec<Block> {
        self.close();
        self.blocks
    }
}

/// Whether a tag sits within a line of text (so ending it is no break between words).
fn is_inline(tag: &TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

fn link_is_safe(dest: &str, link_type: LinkType) -> bool {
    if matches!(link_type, LinkType::Email) {
        return true;
    }
    let lower = dest.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

/// Sanitises rendered HTML with an allow-list: only the structure markdown produces, the
/// statement anchors, and http(s)/mailto links.
pub fn sanitise(html: &str) -> String {
    let mut builder = ammonia::Builder::default();
    builder
        .add_tag_attributes("li", &["id"])
        .add_tag_attributes("span", &["class"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"));
    builder.clean(html).to_string()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_list_items_are_numbered_statements() {
        let md = "# AUP\n\nIntro.\n\n- First thing.\n- Second *thing*.\n  - a detail\n\n## More\n\n- Third.\n";
        let r = render_policy(md).unwrap();
        let numbers: Vec<_> = r
            .statements
            .iter()
            .map(|s| (s.number, s.text.as_str()))
            .collect();
        assert_eq!(
            numbers,
            vec![
                (1, "First thing."),
                (2, "Second thing.a detail"),
                (3, "Third.")
            ]
        );
        assert!(
            r.html
                .contains(r#"<li id="statement-3"><span class="statement-number">3.</span>"#),
            "{}",
            r.html
        );
    }

    #[test]
    fn blocks_are_the_words_a_reader_sees_in_document_order() {
        let md = "\n\n## Rules **for** staff\n\nIntro *text*\nover two lines.\n\n- First `thing`.\n- Second.\n  - a detail\n\n> Quoted.\n\n1. Third.\n";
        let r = render_policy(md).unwrap();
        let blocks: Vec<_> = r.blocks.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            blocks,
            vec![
                (BlockKind::Heading, "Rules for staff"),
                (BlockKind::Paragraph, "Intro text over two lines."),
                (BlockKind::Statement(1), "First thing."),
                (BlockKind::Statement(2), "Second. a detail"),
                (BlockKind::Paragraph, "Quoted."),
                (BlockKind::Statement(3), "Third."),
            ]
        );
    }

    #[test]
    fn a_script_tag_is_refused_with_its_line() {
        let err = render_policy("# AUP\n\n- ok\n<script>alert(1)</script>\n").unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        assert!(err.message.contains("HTML is not allowed"));
        let inline = render_policy("Text with <img src=x onerror=alert(1)> inside\n").unwrap_err();
        assert_eq!(inline.line, 1);
    }

    #[test]
    fn a_javascript_link_is_refused() {
        let err = render_policy("Intro\n\n[click](javascript:alert(1))\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("links must start with"));
        assert!(render_policy("[council](https://www.sefton.gov.uk/)").is_ok());
    }

    #[test]
    fn empty_text_is_refused() {
        assert!(render_policy("  \n ").is_err());
    }

    #[test]
    fn the_real_policy_renders_with_all_its_statements() {
        let md = include_str!("../../../demo/acceptable-use-policy.md");
        let r = render_policy(md).unwrap();
        assert_eq!(r.statements.len(), 32);
        assert!(
            r.statements[2]
                .text
                .starts_with("I will not access facebook")
        );
        assert!(!r.html.contains("<script"));
    }
}
