//! The progress chart: the signed share per day drawn as SVG on the server (no script),
//! with a description and a table beside it for those who cannot see it.

use undersign_core::compliance::ProgressPoint;

/// The progress chart, drawn on the server: a line of the signed share per day.
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub points: String,
    /// The one point, drawn as a dot, when there is only one day (a line needs two).
    pub dot: Option<(u32, u32)>,
    pub area: String,
    pub gridlines: Vec<(u32, String)>,
    pub x_labels: Vec<(u32, String, &'static str)>,
    pub description: String,
    pub rows: Vec<(String, usize, usize, usize)>,
}

const CHART_W: u32 = 640;
const CHART_H: u32 = 240;
const LEFT: u32 = 48;
const RIGHT: u32 = 16;
const TOP: u32 = 16;
const BOTTOM: u32 = 40;

pub(super) fn chart(progress: &[ProgressPoint], title: &str) -> Chart {
    let plot_w = CHART_W - LEFT - RIGHT;
    let plot_h = CHART_H - TOP - BOTTOM;
    let n = progress.len().max(1);
    let x = |i: usize| -> u32 {
        if n == 1 {
            LEFT + plot_w / 2
        } else {
            LEFT + (plot_w as usize * i / (n - 1)) as u32
        }
    };
    let pct = |p: &ProgressPoint| undersign_core::compliance::percent(p.signed, p.total);
    let y = |percent: usize| -> u32 { TOP + plot_h - (plot_h as usize * percent / 100) as u32 };
    let points: Vec<String> = progress
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{},{}", x(i), y(pct(p))))
        .collect();
    let area = if progress.is_empty() {
        String::new()
    } else {
        format!(
            "{},{} {} {},{}",
            x(0),
            y(0),
            points.join(" "),
            x(n - 1),
            y(0)
        )
    };
    let date = |p: &ProgressPoint| p.date.format("%-d %b %Y").to_string();
    let mut x_labels = Vec::new();
    if let Some(first) = progress.first() {
        let anchor = if progress.len() == 1 {
            "middle"
        } else {
            "start"
        };
        x_labels.push((x(0), date(first), anchor));
    }
    if progress.len() > 2 {
        let mid = progress.len() / 2;
        x_labels.push((x(mid), date(&progress[mid]), "middle"));
    }
    if progress.len() > 1
        && let Some(last) = progress.last()
    {
        x_labels.push((x(n - 1), date(last), "end"));
    }
    let description = match (progress.first(), progress.last()) {
        (Some(only), _) if progress.len() == 1 => format!(
            "{title}: {}% signed on {} ({} of {}), the first day. The line over time starts once there is a second day.",
            pct(only),
            date(only),
            only.signed,
            only.total
        ),
        (Some(first), Some(last)) => format!(
            "{title}: {}% signed on {}, {}% on {} ({} of {}).",
            pct(first),
            date(first),
            pct(last),
            date(last),
            last.signed,
            last.total
        ),
        _ => format!("{title}: no data yet."),
    };
    Chart {
        width: CHART_W,
        height: CHART_H,
        points: points.join(" "),
        dot: match progress {
            [only] => Some((x(0), y(pct(only)))),
            _ => None,
        },
        area,
        gridlines: [0usize, 25, 50, 75, 100]
            .into_iter()
            .map(|p| (y(p), format!("{p}%")))
            .collect(),
        x_labels,
        description,
        rows: progress
            .iter()
            .map(|p| (date(p), p.signed, p.total, pct(p)))
            .collect(),
    }
}
