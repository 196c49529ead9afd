//! Synthetic category lists and request streams for the differential test against squidGuard
//! and the benchmark in `bench/filter`: realistic-looking domains over many categories, URL
//! entries, and requests that mix listed hosts, subdomains, near-misses, URL entries, mixed
//! case, ports, credentials and escapes. Deterministic for a given seed. Also the one
//! squidGuard configuration and equivalent `filter.toml` both of them run.

use std::io::{self, Write};
use std::path::Path;

/// A small, fast, seedable generator (SplitMix64); statistical quality is all that matters.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One item of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ro", "sa", "ti", "vu", "bel", "cor", "dan", "fer", "gil", "hax", "jo",
    "kin", "lux", "mar", "nov", "pix", "qu", "ras", "sol", "tor", "ul", "vex", "wen", "xy", "yo",
    "zen", "net", "web", "shop", "blog", "tube", "chat", "play", "bet", "hot", "cam", "news",
    "star", "club", "zone",
];
const TLDS: &[&str] = &[
    "com", "com", "com", "com", "net", "org", "co.uk", "de", "fr", "ru", "info", "xyz", "io", "nl",
    "it", "com.br", "pl", "es", "biz", "tv",
];
const SUBS: &[&str] = &[
    "www", "m", "cdn", "img", "static", "api", "mail", "shop", "ads", "video", "www2", "web1",
    "ftp",
];
const PATHS: &[&str] = &[
    "/video",
    "/gallery",
    "/forum",
    "/r/",
    "/user/",
    "/watch",
    "/tag/",
    "/index.php",
    "/p/",
    "/search",
];

fn label(rng: &mut Rng) -> String {
    let n = 2 + rng.below(3);
    let mut s = String::new();
    for _ in 0..n {
        let syllable: &&str = rng.pick(SYLLABLES);
        s.push_str(syllable);
    }
    if rng.chance(15) {
        s.push_str(&rng.below(100).to_string());
    }
    if rng.chance(8) {
        s.push('-');
        let syllable: &&str = rng.pick(SYLLABLES);
        s.push_str(syllable);
    }
    s
}

/// A random registrable domain such as `solmarka.co.uk`.
pub fn domain(rng: &mut Rng) -> String {
    format!("{}.{}", label(rng), rng.pick(TLDS))
}

/// Synthetic lists: per category, its domain entries and URL entries.
#[derive(Debug, Clone)]
pub struct Lists {
    /// Category names, `cat00`, `cat01` …
    pub categories: Vec<String>,
    /// Domain entries per category.
    pub domains: Vec<Vec<String>>,
    /// URL entries per category.
    pub urls: Vec<Vec<String>>,
}

impl Lists {
    /// `domains` domain entries and `urls` URL entries spread over `categories` categories,
    /// sized unevenly as real lists are (a few big categories, many small ones). About one
    /// entry in eight is a subdomain of another entry (often in another category), so that
    /// parents and siblings coexist as they do in UT1.
    pub fn generate(categories: usize, domains: usize, urls: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let categories = categories.max(1);
        let names: Vec<String> = (0..categories).map(|i| format!("cat{i:02}")).collect();
        // Category weights ~ 1/(i+1): the first categories are the big ones (adult, …).
        let weights: Vec<f64> = (0..categories).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let total: f64 = weights.iter().sum();
        let pick_cat = |rng: &mut Rng| {
            let mut x = (rng.next_u64() as f64 / u64::MAX as f64) * total;
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    return i;
                }
                x -= w;
            }
            categories - 1
        };
        let mut out = Self {
            categories: names,
            domains: vec![Vec::new(); categories],
            urls: vec![Vec::new(); categories],
        };
        let mut recent: Vec<String> = Vec::new();
        for _ in 0..domains {
            let c = pick_cat(&mut rng);
            let d = if !recent.is_empty() && rng.chance(12) {
                format!("{}.{}", rng.pick(SUBS), rng.pick(&recent))
            } else {
                domain(&mut rng)
            };
            if recent.len() < 4096 {
                recent.push(d.clone());
            } else {
                let i = rng.below(recent.len());
                recent[i] = d.clone();
            }
            out.domains[c].push(d);
        }
        for _ in 0..urls {
            let c = pick_cat(&mut rng);
            let host = if !recent.is_empty() && rng.chance(30) {
                rng.pick(&recent).clone()
            } else {
                domain(&mut rng)
            };
            let mut path = String::from(*rng.pick(PATHS));
            path.push_str(&label(&mut rng));
            if rng.chance(30) {
                path.push('/');
                path.push_str(&label(&mut rng));
            }
            out.urls[c].push(format!("{host}{path}"));
        }
        out
    }

    /// Writes `<dir>/<category>/domains` and `<dir>/<category>/urls`.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        for (i, name) in self.categories.iter().enumerate() {
            let d = dir.join(name);
            std::fs::create_dir_all(&d)?;
            let mut f = io::BufWriter::new(std::fs::File::create(d.join("domains"))?);
            for e in &self.domains[i] {
                writeln!(f, "{e}")?;
            }
            f.flush()?;
            let mut f = io::BufWriter::new(std::fs::File::create(d.join("urls"))?);
            for e in &self.urls[i] {
                writeln!(f, "{e}")?;
            }
            f.flush()?;
        }
        Ok(())
    }

    /// Writes the lists to `<dir>/lists`, and beside them `squidGuard.conf` (logging to
    /// `<dir>/log`) and the equivalent `filter.toml`: on the school network (10.10.0.0/16)
    /// every category is blocked; elsewhere all but the last, which plays the part of social
    /// networking. The same configuration for the differential test and the benchmark.
    pub fn write_configs(&self, dir: &Path) -> io::Result<()> {
        let Some((social, others)) = self.categories.split_last() else {
            return Err(io::Error::other("synthetic lists without categories"));
        };
        let db = dir.join("lists");
        self.write(&db)?;
        std::fs::create_dir_all(dir.join("log"))?;
        let mut sg = format!(
            "dbhome {}\nlogdir {}\n",
            db.display(),
            dir.join("log").display()
        );
        for name in &self.categories {
            sg.push_str(&format!(
                "dest {name} {{\n  domainlist {name}/domains\n  urllist {name}/urls\n}}\n"
            ));
        }
        let pass = |categories: &[String]| {
            categories
                .iter()
                .map(|c| format!("!{c}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        sg.push_str(&format!(
            "src school {{\n  ip 10.10.0.0/16\n}}\nacl {{\n  school {{\n    pass {} all\n    redirect http://blocked.test/?c=%t\n  }}\n  default {{\n    pass {} all\n    redirect http://blocked.test/?c=%t\n  }}\n}}\n",
            pass(&self.categories),
            pass(others)
        ));
        std::fs::write(dir.join("squidGuard.conf"), sg)?;

        let mut toml = String::from(
            "lists = \"lists\"\n[statements]\n11 = \"I will not browse, download, upload or distribute any material that could be considered offensive, illegal or discriminatory.\"\n3 = \"I will not access facebook or other social networking sites from a school computer whilst on school premises.\"\n",
        );
        for name in &self.categories {
            toml.push_str(&format!("[categories.{name}]\n"));
        }
        toml.push_str("[networks.school]\ncidrs = [\"10.10.0.0/16\"]\n");
        let others: Vec<String> = others.iter().map(|c| format!("\"{c}\"")).collect();
        toml.push_str(&format!(
            "[[rules]]\nname = \"listed\"\ncategories = [{}]\naction = \"deny\"\nstatement = 11\n\n[[rules]]\nname = \"social-at-school\"\nnetworks = \"school\"\ncategories = \"{social}\"\naction = \"deny\"\nstatement = 3\n\n[default]\naction = \"allow\"\nstatement = 11\n",
            others.join(", "),
        ));
        std::fs::write(dir.join("filter.toml"), toml)
    }

    fn random_domain_entry(&self, rng: &mut Rng) -> Option<&str> {
        for _ in 0..8 {
            let c = rng.below(self.categories.len());
            if !self.domains[c].is_empty() {
                return Some(rng.pick(&self.domains[c]).as_str());
            }
        }
        None
    }

    fn random_url_entry(&self, rng: &mut Rng) -> Option<&str> {
        for _ in 0..8 {
            let c = rng.below(self.categories.len());
            if !self.urls[c].is_empty() {
                return Some(rng.pick(&self.urls[c]).as_str());
            }
        }
        None
    }
}

/// One generated request: a client address, a method and a URL as Squid would pass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Client address.
    pub src: String,
    /// `GET` or `CONNECT`.
    pub method: &'static str,
    /// The URL (`http://…`, or `host:port` for CONNECT).
    pub url: String,
}

impl Request {
    /// The request as squidGuard reads it on stdin (its redirector protocol).
    pub fn squidguard_line(&self) -> String {
        format!("{} {}/- - {}\n", self.url, self.src, self.method)
    }

    /// The request as Squid sends it to the helper on concurrency channel `channel`.
    pub fn helper_line(&self, channel: usize) -> String {
        format!(
            "{channel} {} - {} {}\n",
            self.src,
            self.method,
            squid_escape(&self.url)
        )
    }
}

/// A value as Squid 5.7 escapes it for an external ACL helper: unsafe characters become
/// `%XX`, but `%` itself is left alone, so the client's own escapes arrive untouched.
fn squid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'\\' | b'#' | b'<' | b'>' | b'{' | b'}' | b'|' | b'^' | b'~' | b'`'
            )
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn mixed_case(rng: &mut Rng, s: &str) -> String {
    if !rng.chance(20) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if rng.chance(40) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// `n` requests against `lists`, from the given client addresses.
pub fn requests(lists: &Lists, n: usize, sources: &[&str], seed: u64) -> Vec<Request> {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let src = (*rng.pick(sources)).to_owned();
        let roll = rng.below(100);
        let (host, path) = match roll {
            // A listed domain as it is.
            0..=24 => (
                lists
                    .random_domain_entry(&mut rng)
                    .map_or_else(|| domain(&mut rng), str::to_owned),
                None,
            ),
            // A subdomain of a listed domain.
            25..=44 => {
                let d = lists
                    .random_domain_entry(&mut rng)
                    .map_or_else(|| domain(&mut rng), str::to_owned);
                let sub = if rng.chance(50) {
                    (*rng.pick(SUBS)).to_owned()
                } else {
                    label(&mut rng)
                };
                (format!("{sub}.{d}"), None)
            }
            // Near misses: look-alike prefixes, a listed name inside another domain, a
            // parent of a listed subdomain, another TLD.
            45..=59 => {
                let d = lists
                    .random_domain_entry(&mut rng)
                    .map_or_else(|| domain(&mut rng), str::to_owned);
                let h = match rng.below(5) {
                    0 => format!("a{d}"),
                    1 => format!("{d}.evil.net"),
                    2 => format!("{d}x"),
                    3 => d
                        .split_once('.')
                        .map_or(d.clone(), |(_, rest)| rest.to_owned()),
                    _ => format!(
                        "{}.{}",
                        d.rsplit_once('.').map_or(d.as_str(), |(a, _)| a),
                        rng.pick(TLDS)
                    ),
                };
                (h, None)
            }
            // URL entries: exact, longer, shorter, with a www-like label.
            60..=79 => match lists.random_url_entry(&mut rng) {
                None => (domain(&mut rng), None),
                Some(u) => {
                    let (h, p) = u.split_at(u.find('/').unwrap_or(u.len()));
                    let h = match rng.below(4) {
                        0 => format!("{}.{h}", rng.pick(&["www", "web", "ftp2", "www3"])),
                        1 => format!("m.{h}"),
                        _ => h.to_owned(),
                    };
                    let p = match rng.below(4) {
                        0 => format!("{p}/{}", label(&mut rng)),
                        1 => format!("{p}?q={}", rng.below(1000)),
                        2 => p[..p.len().saturating_sub(1 + rng.below(3))].to_owned(),
                        _ => p.to_owned(),
                    };
                    (h, Some(p))
                }
            },
            // Unlisted.
            _ => {
                let d = domain(&mut rng);
                (
                    if rng.chance(50) {
                        format!("www.{d}")
                    } else {
                        d
                    },
                    None,
                )
            }
        };
        let host = mixed_case(&mut rng, &host);
        let connect = path.is_none() && rng.chance(25);
        if connect {
            out.push(Request {
                src,
                method: "CONNECT",
                url: format!("{host}:443"),
            });
            continue;
        }
        let port = match rng.below(10) {
            0 => ":8080",
            1 => ":80",
            _ => "",
        };
        let auth = if rng.chance(3) { "user:pw@" } else { "" };
        let mut path = path.unwrap_or_else(|| {
            if rng.chance(50) {
                String::from("/")
            } else {
                format!("/{}/{}.html", label(&mut rng), label(&mut rng))
            }
        });
        let letter = path
            .char_indices()
            .find(|(_, c)| c.is_ascii_lowercase())
            .map(|(i, c)| (i, c as u32));
        match (rng.below(100), letter) {
            // Escape one letter of the path: squidGuard and the helper both unescape first.
            (0..=4, Some((i, c))) => path.replace_range(i..=i, &format!("%{c:02X}")),
            // Escape the `%` of such an escape: unescaped once (as squidGuard does) this is
            // `%XX`, not the letter; unescaped twice it would be the letter.
            (5..=9, Some((i, c))) => path.replace_range(i..=i, &format!("%25{c:02x}")),
            // The same for a `/` inside the path (`%252f`).
            (10..=12, _) => {
                if let Some(i) = path.get(1..).and_then(|p| p.find('/')) {
                    path.replace_range(i + 1..=i + 1, "%252f");
                }
            }
            _ => {}
        }
        let scheme = if rng.chance(90) { "http" } else { "ftp" };
        out.push(Request {
            src,
            method: "GET",
            url: format!("{scheme}://{auth}{host}{port}{path}"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = Lists::generate(20, 1000, 100, 7);
        let b = Lists::generate(20, 1000, 100, 7);
        assert_eq!(a.domains, b.domains);
        assert_eq!(a.domains.iter().map(Vec::len).sum::<usize>(), 1000);
        assert_eq!(a.urls.iter().map(Vec::len).sum::<usize>(), 100);
        let r = requests(&a, 500, &["10.0.0.1"], 1);
        assert_eq!(r.len(), 500);
        assert!(r.iter().any(|r| r.method == "CONNECT"));
        assert!(r.iter().any(|r| r.url.contains(":8080")));
    }
}
