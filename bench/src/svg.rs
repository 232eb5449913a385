//! Two small SVG charts written by hand: lines (memory against connections) and grouped bars
//! (fan-out throughput). No plotting dependency.

use std::fmt::Write;

pub const COLORS: [&str; 5] = ["#d62728", "#1f77b4", "#2ca02c", "#7f7f7f", "#9467bd"];

pub struct Line {
    pub label: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

pub struct Bars {
    /// One group per x label; in each, one bar per series.
    pub groups: Vec<String>,
    pub series: Vec<(String, &'static str, Vec<Option<f64>>)>,
    /// A text above each bar (same shape as the values).
    pub notes: Vec<Vec<Option<String>>>,
}

const W: f64 = 720.0;
const H: f64 = 420.0;
const L: f64 = 70.0;
const R: f64 = 20.0;
const T: f64 = 60.0;
const B: f64 = 60.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" axis maximum and tick step for values up to `max`.
fn nice(max: f64) -> (f64, f64) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn fmt_tick(v: f64) -> String {
    if v >= 1000.0 && (v / 1000.0).fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v}")
    } else {
        format!("{v:.1}")
    }
}

fn frame(out: &mut String, title: &str, xlabel: &str, ylabel: &str, ymax: f64, ystep: f64) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>
"#,
        W / 2.0,
        esc(title),
        L + (W - L - R) / 2.0,
        H - 14.0,
        esc(xlabel),
        T + (H - T - B) / 2.0,
        T + (H - T - B) / 2.0,
        esc(ylabel)
    );
    let mut v = 0.0;
    while v <= ymax + ystep / 2.0 {
        let y = H - B - v / ymax * (H - T - B);
        let _ = writeln!(
            out,
            r##"<line x1="{L}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - R,
            L - 6.0,
            y + 4.0,
            fmt_tick(v)
        );
        v += ystep;
    }
    let _ = writeln!(
        out,
        r##"<line x1="{L}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{}" stroke="black"/>"##,
        H - B,
        W - R,
        H - B,
        H - B
    );
}

/// The legend: a column at the top left (`row` false) or one row under the title.
fn legend(out: &mut String, items: &[(String, &str)], row: bool) {
    let mut x = L + 12.0;
    for (i, (label, color)) in items.iter().enumerate() {
        let y = if row { 42.0 } else { T + 8.0 + i as f64 * 18.0 };
        let _ = writeln!(
            out,
            r#"<rect x="{x:.1}" y="{}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{}">{}</text>"#,
            y - 10.0,
            x + 18.0,
            y,
            esc(label)
        );
        if row {
            x += 36.0 + 6.5 * label.chars().count() as f64;
        }
    }
}

pub fn lines(title: &str, xlabel: &str, ylabel: &str, lines: &[Line]) -> String {
    let xmax = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let ymax = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let (xmax, xstep) = nice(xmax);
    let (ymax, ystep) = nice(ymax);
    let mut out = String::new();
    frame(&mut out, title, xlabel, ylabel, ymax, ystep);
    let px = |x: f64| L + x / xmax * (W - L - R);
    let py = |y: f64| H - B - y / ymax * (H - T - B);
    let mut x = 0.0;
    while x <= xmax + xstep / 2.0 {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            H - B + 16.0,
            fmt_tick(x)
        );
        x += xstep;
    }
    for l in lines {
        let pts: Vec<String> = l
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            l.color,
            pts.join(" ")
        );
        for &(x, y) in &l.points {
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                px(x),
                py(y),
                l.color
            );
        }
    }
    legend(
        &mut out,
        &lines
            .iter()
            .map(|l| (l.label.clone(), l.color))
            .collect::<Vec<_>>(),
        false,
    );
    out.push_str("</svg>\n");
    out
}

pub fn bars(title: &str, xlabel: &str, ylabel: &str, b: &Bars) -> String {
    let ymax = b
        .series
        .iter()
        .flat_map(|s| s.2.iter().flatten().copied())
        .fold(0.0, f64::max);
    let (ymax, ystep) = nice(ymax * 1.15);
    let mut out = String::new();
    frame(&mut out, title, xlabel, ylabel, ymax, ystep);
    let groups = b.groups.len().max(1) as f64;
    let gw = (W - L - R) / groups;
    let n = b.series.len().max(1) as f64;
    let bw = gw * 0.7 / n;
    let py = |y: f64| H - B - y / ymax * (H - T - B);
    for (gi, g) in b.groups.iter().enumerate() {
        let gx = L + gi as f64 * gw;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            gx + gw / 2.0,
            H - B + 16.0,
            esc(g)
        );
        for (si, (_, color, vals)) in b.series.iter().enumerate() {
            let Some(v) = vals.get(gi).copied().flatten() else {
                continue;
            };
            let x = gx + gw * 0.15 + si as f64 * bw;
            let _ = writeln!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/>"#,
                py(v),
                bw - 2.0,
                H - B - py(v)
            );
            if let Some(Some(note)) = b.notes.get(si).and_then(|n| n.get(gi)) {
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                    x + (bw - 2.0) / 2.0,
                    py(v) - 4.0,
                    esc(note)
                );
            }
        }
    }
    legend(
        &mut out,
        &b.series
            .iter()
            .map(|s| (s.0.clone(), s.1))
            .collect::<Vec<_>>(),
        true,
    );
    out.push_str("</svg>\n");
    out
}
