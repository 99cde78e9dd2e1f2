//! Reading LiteLLM's `model_prices_and_context_window.json`, the price map most
//! gateways exchange, into iron-cage's table format, so a team can update its
//! prices from a newer copy without waiting for a release
//! (`iron-cage prices import FILE`, or `IRON_CAGE_PRICES=FILE`).
//!
//! Prices there are USD per token; iron-cage's are USD per million tokens.
//! Only text models are taken (`mode` chat, responses, completion, embedding);
//! entries without both an input and an output price are skipped, and so is
//! anything iron-cage cannot bill exactly (per-image or per-second models).

use serde_json::{json, Map, Value};

/// Modes of text models.
const TEXT_MODES: [&str; 4] = ["chat", "responses", "completion", "embedding"];

/// Whether `value` (a parsed JSON file) is a LiteLLM price map rather than an
/// iron-cage table: no `models` member, and its entries carry `litellm_provider`.
#[must_use]
pub fn is_litellm_map(value: &Value) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    !map.contains_key("models")
        && map
            .values()
            .filter_map(Value::as_object)
            .any(|e| e.contains_key("litellm_provider"))
}

/// USD per token to USD per 1M tokens, rounded to the micro-dollar the table keeps.
fn per_million(v: &Value) -> Option<f64> {
    let x = v.as_f64()?;
    (x.is_finite() && x >= 0.0).then(|| (x * 1e6 * 1e6).round() / 1e6)
}

/// The iron-cage table (as JSON in its own format) for the text models of a
/// LiteLLM map; `version` names where it came from.
#[must_use]
pub fn to_table(value: &Value, version: &str) -> Value {
    let mut models = Map::new();
    let Some(map) = value.as_object() else {
        return json!({"version": version, "models": models});
    };
    for (name, entry) in map {
        let Some(e) = entry.as_object() else { continue };
        let mode = e.get("mode").and_then(Value::as_str).unwrap_or("chat");
        if !TEXT_MODES.contains(&mode) || name == "sample_spec" {
            continue;
        }
        if let Some(m) = model(e) {
            models.insert(name.clone(), Value::Object(m));
        }
    }
    json!({
        "version": version,
        "currency": "USD",
        "unit": "USD per 1M tokens",
        "source": "converted from a LiteLLM model_prices_and_context_window.json",
        "models": models,
    })
}

fn model(e: &Map<String, Value>) -> Option<Map<String, Value>> {
    let rate = |key: &str| e.get(key).and_then(per_million);
    let (input, output) = (
        rate("input_cost_per_token")?,
        rate("output_cost_per_token")?,
    );
    if e.keys()
        .any(|k| k.contains("per_second") || k.contains("per_pixel"))
    {
        return None;
    }
    let provider = match e.get("litellm_provider").and_then(Value::as_str) {
        Some("openai" | "text-completion-openai") => "openai",
        Some("anthropic") => "anthropic",
        _ => "other",
    };
    let mut m = Map::new();
    m.insert("provider".into(), provider.into());
    m.insert("input".into(), input.into());
    m.insert("output".into(), output.into());
    let mut put = |ours: &str, theirs: &str| {
        if let Some(v) = rate(theirs) {
            m.insert(ours.into(), v.into());
        }
    };
    put("cached_input", "cache_read_input_token_cost");
    put("cache_write_5m", "cache_creation_input_token_cost");
    put(
        "cache_write_1h",
        "cache_creation_input_token_cost_above_1hr",
    );
    put("batch_input", "input_cost_per_token_batches");
    put("batch_output", "output_cost_per_token_batches");
    put("audio_input", "input_cost_per_audio_token");
    put("audio_output", "output_cost_per_audio_token");
    if let (Some(pi), Some(po)) = (
        rate("input_cost_per_token_priority"),
        rate("output_cost_per_token_priority"),
    ) {
        m.insert("priority_input".into(), pi.into());
        m.insert("priority_output".into(), po.into());
        if let Some(pc) = rate("cache_read_input_token_cost_priority") {
            m.insert("priority_cached_input".into(), pc.into());
        }
    }
    // Long-context tiers: `input_cost_per_token_above_200k_tokens` and the like.
    let long = e.keys().find_map(|k| {
        let n = k
            .strip_prefix("input_cost_per_token_above_")?
            .strip_suffix("k_tokens")?;
        n.parse::<u64>().ok().map(|n| (n, k.clone()))
    });
    if let Some((thousands, key)) = long {
        let out_key = key.replacen("input_", "output_", 1);
        if let (Some(li), Some(lo)) = (rate(&key), rate(&out_key)) {
            m.insert("long_context_threshold".into(), (thousands * 1000).into());
            m.insert("long_context_input".into(), li.into());
            m.insert("long_context_output".into(), lo.into());
        }
    }
    let tokens = |key: &str| e.get(key).and_then(Value::as_u64).filter(|&n| n > 0);
    if let Some(n) = tokens("max_output_tokens").or_else(|| tokens("max_tokens")) {
        m.insert(
            "max_output_tokens".into(),
            n.min(u64::from(u32::MAX)).into(),
        );
    }
    if let Some(n) = tokens("max_input_tokens") {
        // A long-context tier means the model takes more than the tier's threshold.
        let window = match m.get("long_context_threshold").and_then(Value::as_u64) {
            Some(t) if n <= t => n.max(1_000_000),
            _ => n,
        };
        m.insert(
            "context_window".into(),
            window.min(u64::from(u32::MAX)).into(),
        );
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PriceTable;

    #[test]
    fn a_litellm_map_becomes_a_table() {
        let map = json!({
            "sample_spec": {"litellm_provider": "one of ...", "input_cost_per_token": 0.0},
            "gpt-x": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1.25e-06,
                      "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-07,
                      "input_cost_per_token_batches": 6.25e-07, "output_cost_per_token_batches": 5e-06,
                      "input_cost_per_token_priority": 2.5e-06, "output_cost_per_token_priority": 2e-05,
                      "input_cost_per_token_above_272k_tokens": 2.5e-06, "output_cost_per_token_above_272k_tokens": 1.5e-05,
                      "max_input_tokens": 1050000, "max_output_tokens": 128000},
            "claude-x": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
                         "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost": 3.75e-06,
                         "cache_creation_input_token_cost_above_1hr": 6e-06, "max_input_tokens": 200000},
            "dall-e-x": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_pixel": 1e-08},
            "whisper-x": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_second": 1e-04,
                          "input_cost_per_token": 0, "output_cost_per_token": 0},
        });
        assert!(is_litellm_map(&map));
        let table = to_table(&map, "litellm-test");
        let models = table["models"].as_object().expect("models");
        assert_eq!(models.len(), 2, "{models:?}");
        assert_eq!(models["gpt-x"]["input"], json!(1.25));
        assert_eq!(models["gpt-x"]["long_context_threshold"], json!(272_000));
        assert_eq!(models["claude-x"]["cache_write_1h"], json!(6.0));
        let t = PriceTable::from_json_str(&table.to_string(), "test").expect("valid");
        let p = t.lookup("gpt-x").expect("priced").price;
        assert_eq!(p.standard.input, 1_250_000);
        assert_eq!(p.priority.expect("priority").output, 20_000_000);
        assert_eq!(p.context_window, Some(1_050_000));
        assert!(!is_litellm_map(&json!({"models": {}})));
    }
}
