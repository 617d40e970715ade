//! `bench.csv`: the columns plus `run`, one line per run of a case, so that the
//! scatter behind each median in the tables stays in the data.

use super::row::Row;

/// The header line.
pub const HEADER: &str = "pattern,api,model_us,threads,run,requests,utilisation,req_per_s,cpu_us_per_req,notify_p50_us,notify_p99_us,idle_wakeups";

/// The file's text. Utilisation is a fraction (0..1); a latency or idle count that was
/// not measured is an empty field.
pub fn render(rows: &[Row]) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    for r in rows {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
        s.push_str(&format!(
            "{},{},{},{},{},{},{:.4},{:.0},{:.3},{},{},{}\n",
            r.pattern,
            r.api,
            r.model_us,
            r.threads,
            r.run,
            r.requests,
            r.utilisation,
            r.req_per_s,
            r.cpu_us_per_req,
            opt(r.notify_p50_us),
            opt(r.notify_p99_us),
            r.idle_wakeups.map(|v| v.to_string()).unwrap_or_default()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row::sample;

    #[test]
    fn every_line_has_the_header_s_columns() {
        let mut b = sample("sync", 0, 0.0, 1.0);
        b.idle_wakeups = None;
        let text = render(&[sample("spin-loop", 20, 0.99, 20.0), b]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines.len(), 3);
        for l in &lines {
            assert_eq!(l.split(',').count(), 12, "{l}");
        }
        assert!(lines[1].starts_with("spin-loop,2.28,20,1,1,1000,0.9900,"));
        assert!(lines[2].ends_with(','));
    }
}
