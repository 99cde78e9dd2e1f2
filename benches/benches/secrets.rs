//! Unlocking (Argon2id, m=19456 KiB, t=2, p=1: slow by design, once per process)
//! and encrypting/decrypting a 64-byte secret after unlock.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use iron_secrets::{Binding, KdfParams, SecretCipher};

const KEY: &[u8] = b"correct horse battery staple";

fn secrets(c: &mut Criterion) {
    let mut slow = c.benchmark_group("secrets_unlock");
    slow.sample_size(10);
    slow.bench_function("argon2id_m19456_t2_p1", |b| {
        b.iter(|| {
            SecretCipher::unlock(black_box(KEY), KdfParams::recommended([7; 16])).expect("unlock")
        });
    });
    slow.finish();

    let cipher = SecretCipher::unlock(KEY, KdfParams::recommended([7; 16])).expect("unlock");
    let binding = Binding {
        id: "5f0c2a",
        name: "OPENAI_API_KEY",
        environment: "production",
        version: 3,
    };
    let value = [b'k'; 64];
    let blob = cipher.encrypt(&binding, &value).expect("encrypt");
    c.bench_function("secrets/decrypt_64b", |b| {
        b.iter(|| {
            cipher
                .decrypt(black_box(&binding), black_box(&blob))
                .expect("decrypt")
        })
    });
    c.bench_function("secrets/encrypt_64b", |b| {
        b.iter(|| {
            cipher
                .encrypt(black_box(&binding), black_box(&value))
                .expect("encrypt")
        })
    });
}

criterion_group!(benches, secrets);
criterion_main!(benches);
