//! Price override files read from disk, and costs computed from them.

use std::io::Write;

use iron_cost::{CostError, PriceTable, Tier};
use serde_json::json;

fn temp_file(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("iron-cage-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(body.as_bytes()))
        .expect("write");
    path
}

#[test]
fn toml_override_prices_a_new_model_and_keeps_the_rest() {
    let path = temp_file(
        "p.toml",
        "version = \"t\"\n[models.\"acme-1\"]\nprovider = \"anthropic\"\ninput = 2\noutput = 10\n",
    );
    let table = PriceTable::embedded().merged(&PriceTable::from_path(&path).expect("valid"));
    // Anthropic defaults: cache read 0.1x, 5-minute write 1.25x.
    let cost = table
        .cost_of_json("acme-1", &json!({"input_tokens": 1000, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 1000, "output_tokens": 100}), Tier::Standard)
        .expect("priced");
    assert_eq!(cost.micros(), 2000 + 200 + 2500 + 1000);
    assert!(table.lookup("gpt-4o").is_ok());
}

#[test]
fn unreadable_and_malformed_files_name_the_file() {
    let missing = std::env::temp_dir().join("definitely-missing-prices.json");
    let err = PriceTable::from_path(&missing).expect_err("missing");
    assert!(
        matches!(&err, CostError::PriceTable { source_name, .. } if source_name.contains("definitely-missing"))
    );
    let bad = temp_file(
        "bad.json",
        "{\"models\": {\"m\": {\"input\": \"cheap\", \"output\": 1}}}",
    );
    assert!(PriceTable::from_path(&bad)
        .expect_err("string price")
        .to_string()
        .contains("bad.json"));
}
