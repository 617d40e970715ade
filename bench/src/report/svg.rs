//! `bench.svg`: utilisation and CPU per request by pattern, hand-written SVG.
//!
//! One row of two panels per API generation (single-thread cases): on the left COMPUTE
//! utilisation (0–100%), on the right CPU µs per request on a log scale; in each panel a
//! group of bars per model time, one bar per pattern, coloured as in the legend. A bar is
//! the median of the case's runs; a black line over it spans the lowest to the highest run
//! when they differ.

use super::summary::Summary;
use std::fmt::Write as _;

const COLOURS: [&str; 8] = [
    "#7f7f7f", "#bcbd22", "#1f77b4", "#d62728", "#2ca02c", "#17becf", "#9467bd", "#ff7f0e",
];
const PANEL_W: f64 = 520.0;
const PANEL_H: f64 = 200.0;
const LEFT: f64 = 60.0;
const GAP: f64 = 90.0;
const TOP: f64 = 70.0;
const ROW_H: f64 = PANEL_H + 80.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart for `cases` (the single-thread cases; or the lowest thread count present).
pub fn render(cases: &[Summary]) -> String {
    let threads = cases.iter().map(|c| c.median.threads).min().unwrap_or(1);
    let cases: Vec<&Summary> = cases
        .iter()
        .filter(|c| c.median.threads == threads)
        .collect();
    let rows: Vec<_> = cases.iter().map(|c| &c.median).collect();
    let mut apis: Vec<&str> = rows.iter().map(|r| r.api.as_str()).collect();
    apis.sort_unstable();
    apis.dedup();
    let mut patterns: Vec<&str> = Vec::new();
    for r in &rows {
        if !patterns.contains(&r.pattern.as_str()) {
            patterns.push(&r.pattern);
        }
    }
    let mut models: Vec<u64> = rows.iter().map(|r| r.model_us).collect();
    models.sort_unstable();
    models.dedup();

    let width = LEFT + 2.0 * PANEL_W + GAP + 20.0;
    let height = TOP + ROW_H * apis.len().max(1) as f64 + 10.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="14" font-weight="bold">COMPUTE utilisation and application CPU per request, by pattern ({threads} submitting thread{})</text>"#,
        if threads == 1 { "" } else { "s" }
    );
    // Legend.
    for (i, p) in patterns.iter().enumerate() {
        let x = LEFT + (i % 4) as f64 * 190.0;
        let y = 34.0 + (i / 4) as f64 * 16.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{:.0}" width="10" height="10" fill="{}"/><text x="{:.0}" y="{:.0}">{}</text>"#,
            y,
            COLOURS[i % COLOURS.len()],
            x + 14.0,
            y + 9.0,
            esc(p)
        );
    }

    let max_cpu = cases
        .iter()
        .map(|c| c.cpu_us_per_req.max)
        .fold(1.0f64, f64::max);
    let cpu_top = 10f64.powf(max_cpu.log10().ceil());
    let cpu_bottom = 0.1f64;

    for (ai, api) in apis.iter().enumerate() {
        let y0 = TOP + ai as f64 * ROW_H + 20.0;
        for panel in 0..2 {
            let x0 = LEFT + panel as f64 * (PANEL_W + GAP);
            let title = if panel == 0 {
                format!("API {api}: utilisation (%)")
            } else {
                format!("API {api}: CPU per request (µs, log scale)")
            };
            let _ = writeln!(
                s,
                r#"<text x="{x0}" y="{:.0}" font-weight="bold">{}</text>"#,
                y0 - 6.0,
                esc(&title)
            );
            let _ = writeln!(
                s,
                r##"<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>"##
            );
            // Axis ticks.
            let ticks: Vec<(f64, String)> = if panel == 0 {
                (0..=4)
                    .map(|i| (i as f64 * 25.0, format!("{}", i * 25)))
                    .collect()
            } else {
                let mut t = Vec::new();
                let mut v = cpu_bottom;
                while v <= cpu_top * 1.0001 {
                    t.push((
                        v,
                        if v < 1.0 {
                            format!("{v}")
                        } else {
                            format!("{v:.0}")
                        },
                    ));
                    v *= 10.0;
                }
                t
            };
            for (v, label) in ticks {
                let y = y0 + PANEL_H * (1.0 - frac(panel, v, cpu_bottom, cpu_top));
                let _ = writeln!(
                    s,
                    r##"<line x1="{x0}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
                    x0 + PANEL_W,
                    x0 - 4.0,
                    y + 4.0
                );
            }
            let group_w = PANEL_W / models.len().max(1) as f64;
            let bar_w = group_w * 0.8 / patterns.len().max(1) as f64;
            for (mi, m) in models.iter().enumerate() {
                let gx = x0 + mi as f64 * group_w + group_w * 0.1;
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{m} µs</text>"#,
                    gx + group_w * 0.4,
                    y0 + PANEL_H + 14.0
                );
                for (pi, p) in patterns.iter().enumerate() {
                    let Some(c) = cases.iter().find(|c| {
                        let r = &c.median;
                        r.api == *api && r.model_us == *m && r.pattern == *p
                    }) else {
                        continue;
                    };
                    let (spread, scale) = if panel == 0 {
                        (c.utilisation, 100.0)
                    } else {
                        (c.cpu_us_per_req, 1.0)
                    };
                    let v = spread.median * scale;
                    let h = PANEL_H * frac(panel, v, cpu_bottom, cpu_top);
                    let bar_x = gx + pi as f64 * bar_w;
                    let width = (bar_w - 1.0).max(1.0);
                    let unit = if panel == 0 { "%" } else { " µs" };
                    let range = if spread.is_point() {
                        String::new()
                    } else {
                        format!(
                            " (runs {:.2}–{:.2}{unit})",
                            spread.min * scale,
                            spread.max * scale
                        )
                    };
                    let _ = writeln!(
                        s,
                        r#"<rect x="{bar_x:.1}" y="{:.1}" width="{width:.1}" height="{h:.1}" fill="{}"><title>{} {m} µs: {v:.2}{unit}{range}</title></rect>"#,
                        y0 + PANEL_H - h,
                        COLOURS[pi % COLOURS.len()],
                        esc(p),
                    );
                    if !spread.is_point() {
                        let y_of = |x: f64| {
                            y0 + PANEL_H * (1.0 - frac(panel, x * scale, cpu_bottom, cpu_top))
                        };
                        // A vertical stroke from the lowest to the highest run, with caps
                        // so that a narrow range still shows.
                        let (x, low, high) =
                            (bar_x + width / 2.0, y_of(spread.min), y_of(spread.max));
                        let cap = (width / 2.0).min(4.0);
                        let _ = writeln!(
                            s,
                            r##"<path class="range" d="M{:.1} {low:.1}H{:.1}M{x:.1} {low:.1}V{high:.1}M{:.1} {high:.1}H{:.1}" stroke="#000" stroke-width="1.2" fill="none"/>"##,
                            x - cap,
                            x + cap,
                            x - cap,
                            x + cap,
                        );
                    }
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Height fraction of value `v` in a panel: linear 0–100 for utilisation, log for CPU.
fn frac(panel: usize, v: f64, bottom: f64, top: f64) -> f64 {
    let f = if panel == 0 {
        v / 100.0
    } else {
        (v.max(bottom) / bottom).log10() / (top / bottom).log10()
    };
    f.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row::sample;
    use crate::report::summary::by_case;

    #[test]
    fn draws_one_bar_per_case_per_panel_and_a_range_where_runs_differ() {
        let mut second = sample("nrtq-reap", 100, 0.985, 2.5);
        second.run = 2;
        let rows = vec![
            sample("spin-loop", 20, 0.99, 20.0),
            sample("nrtq-reap", 20, 0.98, 2.0),
            sample("nrtq-reap", 100, 0.995, 1.5),
            second,
        ];
        let cases = by_case(&rows);
        assert_eq!(cases.len(), 3);
        let svg = render(&cases);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<title>").count(), 2 * cases.len());
        assert!(
            svg.contains("nrtq-reap 100 µs: 99.00% (runs 98.50–99.50%)"),
            "{svg}"
        );
        assert!(svg.contains("nrtq-reap 100 µs: 2.00 µs (runs 1.50–2.50 µs)"));
        assert!(svg.contains("spin-loop 20 µs: 20.00 µs</title>"));
        // Only the case with two differing runs has range lines, one per panel.
        assert_eq!(svg.matches(r#"class="range""#).count(), 2);
    }

    #[test]
    fn log_scale_maps_decades_evenly() {
        assert!((frac(1, 1.0, 0.1, 100.0) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(frac(1, 0.0, 0.1, 100.0), 0.0);
        assert_eq!(frac(0, 50.0, 0.1, 100.0), 0.5);
    }
}
