//! Integration tests of the domain crates, one binary (uv's `tests/it` layout).

mod ledger_concurrency;
mod pii;
mod prices_files;
mod tokens_oracle;
mod vault;
