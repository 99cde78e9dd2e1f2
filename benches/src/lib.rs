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

/// A deterministic English-like corpus of about `bytes` bytes in which roughly
/// `pii_percent` of the sentences carry a PII value (emails, phones, cards, SSNs,
/// IPs, keys) among ordinary numbers, dates and prices.
#[must_use]
pub fn pii_corpus(bytes: usize, pii_percent: u64) -> String {
    const SENTENCES: &[&str] = &[
        "The quarterly report shows revenue grew 12% to $4.2 million on 2026-11-21.",
        "Our agent reviewed 341 leads and scheduled 27 demos for the sales team.",
        "Please find attached the summary of the meeting with the product group.",
        "The model answered in 1.8 seconds and used 1,204 tokens in total.",
        "Version 3.14 of the client fixes the retry logic described in ticket 5512.",
        "She asked whether the contract renewal could move to the first week of March.",
        "Order 100234567 shipped from the Denver warehouse on Tuesday morning.",
        "The committee approved the budget after a long discussion about hiring.",
    ];
    const PII: &[&str] = &[
        "Contact jane.roe@example.com for details.",
        "Call her at (415) 555-2671 after lunch.",
        "The card on file is 4111 1111 1111 1111.",
        "His SSN is 536-22-8726 according to the form.",
        "The server at 192.168.10.254 stopped responding.",
        "Rotate the key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123 today.",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut out = String::with_capacity(bytes + 128);
    while out.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let pick = usize::try_from(state % 1000).unwrap_or(0);
        if (state >> 32) % 100 < pii_percent {
            out.push_str(PII[pick % PII.len()]);
        } else {
            out.push_str(SENTENCES[pick % SENTENCES.len()]);
        }
        out.push(' ');
    }
    out
}
