//! Search terms read from search engines' results URLs (kept only where the school turns
//! it on).

/// Longest search term kept.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The search term in a search engine's results URL (Google, Bing, DuckDuckGo, Yahoo,
/// Ecosia, YouTube), decoded (`+` and `%xx`), or `None`. Squid logs the whole URL only for
/// plain HTTP, or HTTPS that it decrypts (SSL bump); for other HTTPS it logs the host
/// alone and no term can be read.
pub fn search_term(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_at(rest.find('/')?);
    let host = host
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let (path, query) = path.split_once('?')?;
    let results = path == "/search";
    let key = if (host.starts_with("google.") || host == "bing.com" || host == "ecosia.org")
        && results
        || host == "duckduckgo.com" && (path == "/" || path == "/html/")
    {
        "q"
    } else if host == "search.yahoo.com" && results {
        "p"
    } else if (host == "youtube.com" || host == "m.youtube.com") && path == "/results" {
        "search_query"
    } else {
        return None;
    };
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?;
    let mut bytes = Vec::with_capacity(value.len());
    let raw = value.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        bytes.push(b);
                        i += 2;
                    }
                    None => bytes.push(b'%'),
                }
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    let term: String = String::from_utf8_lossy(&bytes)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_SEARCH_CHARS)
        .collect();
    (!term.is_empty()).then_some(term)
}

#[cfg(test)]
mod search_tests {
    use super::search_term;

    #[test]
    fn the_term_is_read_from_the_main_engines_results_pages_only() {
        assert_eq!(
            search_term("https://www.google.co.uk/search?client=x&q=how+to+make%20a+bomb")
                .as_deref(),
            Some("how to make a bomb")
        );
        assert_eq!(
            search_term("http://www.bing.com/search?q=caf%C3%A9").as_deref(),
            Some("café")
        );
        assert_eq!(
            search_term("https://duckduckgo.com/?q=self+harm&ia=web").as_deref(),
            Some("self harm")
        );
        assert_eq!(
            search_term("https://search.yahoo.com/search?p=fractions").as_deref(),
            Some("fractions")
        );
        assert_eq!(
            search_term("https://www.youtube.com/results?search_query=volcano").as_deref(),
            Some("volcano")
        );
        assert_eq!(search_term("https://www.google.com/maps?q=school"), None);
        assert_eq!(search_term("www.google.com:443"), None);
        assert_eq!(search_term("https://www.google.com/search?q=+++"), None);
        assert_eq!(
            search_term("https://www.google.com/search?q=%"),
            Some("%".into())
        );
        let long = format!("https://www.google.com/search?q={}", "a".repeat(500));
        assert_eq!(search_term(&long).map(|t| t.len()), Some(200));
    }
}
