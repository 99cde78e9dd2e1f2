//! Replays every committed fuzz seed (`fuzz/seeds/<target>/*`) through the
//! target's properties on the stable toolchain, so `cargo test` keeps them.

use std::path::Path;

#[test]
fn every_seed_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    for target in iron_fuzz::TARGETS {
        let dir = root.join(target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        for seed in seeds {
            let data = std::fs::read(&seed).expect("readable");
            let run = std::panic::catch_unwind(|| iron_fuzz::run(target, &data));
            assert!(run.is_ok(), "{target}: {} fails", seed.display());
        }
    }
}
