//! Inputs shared by the benchmarks.

/// About 1 KB of mixed English prose, code and numbers, the same on every run.
#[must_use]
pub fn text_1kb() -> String {
    let base = "The agent qualified lead #42 (Ada Lovelace, CTO at Acme Robotics) with a score of 8/10: \
                they attended the webinar on 2026-11-21 and asked about pricing at $12.50 per seat. \
                def score(lead):\n    return min(10, lead.visits * 2)  # heuristic\n\
                Next steps: schedule a demo, send the whitepaper, follow up in 3 days. ";
    let mut s = String::with_capacity(1100);
    while s.len() < 1024 {
        s.push_str(base);
    }
    s.truncate(1024);
    s
}
