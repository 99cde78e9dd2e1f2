//! The PII scanner: each entity's positives and hard negatives, overlaps,
//! policies, allow-lists, custom patterns, and streaming equal to one-shot;
//! code that looks like IPv6 and the forms a value can take in network text
//! (CIDR, zones, ports), internationalised e-mail, labelled SSNs and national
//! phone formats.

use iron_safety::{
    CustomPattern, Mode, Scanner, ScannerConfig, Severity, StreamScanner, DEFAULT_PHONE_REGIONS,
    PHONE_REGIONS,
};

fn scanner(mode: Mode) -> Scanner {
    Scanner::new(ScannerConfig {
        mode,
        hmac_key: b"test-key".to_vec(),
        ..ScannerConfig::default()
    })
    .expect("valid")
}

fn found(text: &str) -> Vec<(String, String)> {
    scanner(Mode::Warn)
        .find(text)
        .into_iter()
        .map(|f| (f.entity, text[f.start..f.end].to_owned()))
        .collect()
}

fn one(entity: &str, text: &str, value: &str) {
    assert_eq!(
        found(text),
        vec![(entity.to_owned(), value.to_owned())],
        "in {text:?}"
    );
}

fn none(text: &str) {
    assert_eq!(found(text), vec![], "false positive in {text:?}");
}

#[test]
fn positives() {
    one(
        "EMAIL",
        "write to john.doe+leads@example.co.uk today",
        "john.doe+leads@example.co.uk",
    );
    one("PHONE", "call (415) 555-2671 now", "(415) 555-2671");
    one("PHONE", "call 415-555-2671.", "415-555-2671");
    one("PHONE", "call +1 415 555 2671", "+1 415 555 2671");
    one("PHONE", "Berlin office: +49 30 901820", "+49 30 901820");
    one("PHONE", "UK: +44 20 7946 0958", "+44 20 7946 0958");
    one("US_SSN", "SSN 536-22-8726 on file", "536-22-8726");
    one("US_SSN", "mixed 536-22 8726", "536-22 8726");
    one(
        "CREDIT_CARD",
        "card 4111 1111 1111 1111 exp 12/29",
        "4111 1111 1111 1111",
    );
    one(
        "CREDIT_CARD",
        "mc 2221-0000-0000-0009",
        "2221-0000-0000-0009",
    );
    one("CREDIT_CARD", "amex 378282246310005", "378282246310005");
    one(
        "IBAN",
        "pay DE89 3704 0044 0532 0130 00 THE END",
        "DE89 3704 0044 0532 0130 00",
    );
    one("IBAN", "GB82WEST12345698765432", "GB82WEST12345698765432");
    one("IP_ADDRESS", "from 192.168.10.254 via", "192.168.10.254");
    one(
        "IP_ADDRESS",
        "v6 2001:db8:85a3::8a2e:370:7334 ok",
        "2001:db8:85a3::8a2e:370:7334",
    );
    one("IP_ADDRESS", "link-local fe80::1 here", "fe80::1");
    one(
        "MAC_ADDRESS",
        "nic 00:1A:2B:3C:4D:5E up",
        "00:1A:2B:3C:4D:5E",
    );
    one(
        "API_KEY",
        "key=sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123",
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123",
    );
    one(
        "API_KEY",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv_wxyz",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv_wxyz",
    );
    one(
        "API_KEY",
        "aws AKIAIOSFODNN7EXAMPLE id",
        "AKIAIOSFODNN7EXAMPLE",
    );
    one(
        "API_KEY",
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    );
    one(
        "API_KEY",
        "token xoxb-1234567890-abcdefghij",
        "xoxb-1234567890-abcdefghij",
    );
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----";
    one("API_KEY", &format!("here: {pem} done"), pem);
}

#[test]
fn hard_negatives() {
    for text in [
        "SSN 666-12-3456 and 900-12-3456 and 000-12-3456 and 123-00-4567 and 123-45-0000",
        "sample 078-05-1120 and 123-45-6789",
        "card 4111 1111 1111 1112 fails Luhn",
        "iban DE89 3704 0044 0532 0130 01 bad checksum",
        "order #100234567 shipped 2026-11-21 for $12,499.00",
        "uuid 123e4567-e89b-12d3-a456-426614174000 and sha 9e107d9d372bb6826bd81d3542a419d6",
        "version 1.2.3 and v1.2.3.4 and 10.0 and 3.14159",
        "ip 256.1.1.1 and 01.2.3.4",
        "time 10:30:45 and ratio 16:9",
        "call 555-12-34",
        "the sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaa placeholder",
    ] {
        none(text);
    }
}

#[test]
fn longest_then_severity_and_invalid_candidates_do_not_hide_valid_ones() {
    // A 19-digit run that fails Luhn as a card still contains nothing else.
    none("4111111111111111999");
    // An IP inside a longer dotted run is not reported.
    none("1.2.3.4.5");
    // Two entities side by side are both found, in order.
    let f = found("a@b.io 536-22-8726");
    assert_eq!(
        f.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        vec!["EMAIL", "US_SSN"]
    );
}

#[test]
fn modes_allow_lists_custom_and_hmac() {
    let text = "mail ceo@acme.com and x@partner.org, card 4111-1111-1111-1111";
    let r = scanner(Mode::Redact).scan(text);
    assert_eq!(
        r.text,
        "mail [EMAIL_REDACTED] and [EMAIL_REDACTED], card [CREDIT_CARD_REDACTED]"
    );
    assert_eq!(r.findings[2].severity, Severity::Critical);
    assert_eq!(r.findings[0].value_hmac.len(), 64);
    assert!(!r.findings.iter().any(|f| f.value_hmac.contains("acme")));
    let b = scanner(Mode::Block).scan(text);
    assert!(b.blocked && b.text.is_empty());
    let w = scanner(Mode::Warn).scan(text);
    assert_eq!(
        (w.text.as_str(), w.findings.len(), w.blocked),
        (text, 3, false)
    );
    let allow = Scanner::new(ScannerConfig {
        allow_domains: vec!["acme.com".into()],
        allow_values: vec!["4111-1111-1111-1111".into()],
        custom: vec![CustomPattern {
            name: "employee_id".into(),
            pattern: r"\bEMP-[0-9]{6}\b".into(),
            severity: Severity::High,
        }],
        ..ScannerConfig::default()
    })
    .expect("valid");
    let r = allow.scan(&format!("{text} EMP-123456"));
    assert_eq!(
        r.text,
        "mail ceo@acme.com and [EMAIL_REDACTED], card 4111-1111-1111-1111 [EMPLOYEE_ID_REDACTED]"
    );
    let same_key = scanner(Mode::Warn).find("a@b.io")[0].value_hmac.clone();
    let other_key = Scanner::new(ScannerConfig {
        hmac_key: b"other".to_vec(),
        ..ScannerConfig::default()
    })
    .expect("valid")
    .find("a@b.io")[0]
        .value_hmac
        .clone();
    assert_ne!(same_key, other_key, "the HMAC is keyed");
    // Checked as the scanner compiles it (ASCII classes and `\b`); the empty-match
    // probe used Unicode syntax and refused this ("error building NFA") in builds
    // without regex-automata's Unicode word-boundary tables.
    let tickets = Scanner::new(ScannerConfig {
        mode: Mode::Warn,
        custom: vec![CustomPattern {
            name: "ticket".into(),
            pattern: r"\b[A-Z]{2,4}-[0-9]{3,6}\b".into(),
            severity: Severity::Low,
        }],
        ..ScannerConfig::default()
    })
    .expect("a custom pattern with \\b and counted repetitions compiles");
    let found = tickets.find("see OPS-4521 and AB-12, then XYZW-999999.");
    let values: Vec<_> = found
        .iter()
        .map(|f| (f.entity.as_str(), f.start, f.end))
        .collect();
    assert_eq!(values, [("TICKET", 4, 12), ("TICKET", 29, 40)]);
    assert!(Scanner::new(ScannerConfig {
        custom: vec![CustomPattern {
            name: "x".into(),
            pattern: "a*".into(),
            severity: Severity::Low
        }],
        ..ScannerConfig::default()
    })
    .is_err());
}

#[test]
fn streaming_equals_one_shot_for_every_two_and_three_way_split() {
    let s = std::sync::Arc::new(scanner(Mode::Redact));
    let text = "Hi, reach me at jane.roe@example.com or (415) 555-2671; card 4111 1111 1111 1111, key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx123. Bye.";
    let expected = s.scan(text).text;
    let cuts: Vec<usize> = (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .collect();
    for &a in &cuts {
        for &b in cuts.iter().filter(|&&b| b >= a).step_by(7) {
            let mut st = StreamScanner::new(std::sync::Arc::clone(&s));
            let mut out = st.feed(&text[..a]);
            out += &st.feed(&text[a..b]);
            out += &st.feed(&text[b..]);
            out += &st.finish();
            assert_eq!(out, expected, "split at {a}/{b}");
        }
    }
    // Byte-by-byte streaming of a long text keeps the hold-back bounded.
    let long = format!(
        "{} jane.roe@example.com {}",
        "lorem ipsum ".repeat(200),
        "dolor sit ".repeat(200)
    );
    let mut st = StreamScanner::new(std::sync::Arc::clone(&s));
    let mut out = String::new();
    for (i, ch) in long.char_indices() {
        out += &st.feed(&ch.to_string());
        let held = i + ch.len_utf8() - out.len()
            + out.matches("[EMAIL_REDACTED]").count()
                * ("jane.roe@example.com".len() - "[EMAIL_REDACTED]".len());
        assert!(held <= iron_safety::HOLD_BACK + 64, "held {held} bytes");
    }
    out += &st.finish();
    assert_eq!(out, s.scan(&long).text);
}

#[test]
fn a_mode_per_entity_whole_and_streamed() {
    let s = std::sync::Arc::new(scanner(Mode::Redact));
    let text =
        "Mail jane.roe@example.com or call (415) 555-2671 from 10.1.2.3; card 4111 1111 1111 1111.";
    // E-mail allowed (not reported), the phone warned, the rest redacted.
    let modes: iron_safety::ModeOf = std::sync::Arc::new(|entity: &str| match entity {
        "EMAIL" => None,
        "PHONE" => Some(Mode::Warn),
        _ => Some(Mode::Redact),
    });
    let whole = s.scan_as(text, &*modes);
    assert!(!whole.blocked);
    assert_eq!(
        whole.text,
        "Mail jane.roe@example.com or call (415) 555-2671 from [IP_ADDRESS_REDACTED]; card [CREDIT_CARD_REDACTED]."
    );
    let entities: Vec<&str> = whole.findings.iter().map(|f| f.entity.as_str()).collect();
    assert_eq!(entities, ["PHONE", "IP_ADDRESS", "CREDIT_CARD"]);
    let cuts: Vec<usize> = (0..=text.len()).step_by(3).collect();
    for &a in &cuts {
        let mut st = StreamScanner::with_modes(std::sync::Arc::clone(&s), Some(modes.clone()));
        let mut out = st.feed(&text[..a]);
        out += &st.feed(&text[a..]);
        out += &st.finish();
        assert_eq!(out, whole.text, "split at {a}");
        assert_eq!(st.findings().len(), 3);
    }
    // A block for one entity refuses the text; allowed ones alone do not.
    let block_cards: iron_safety::ModeOf = std::sync::Arc::new(|entity: &str| match entity {
        "CREDIT_CARD" => Some(Mode::Block),
        _ => None,
    });
    let refused = s.scan_as(text, &*block_cards);
    assert!(refused.blocked && refused.text.is_empty() && refused.findings.len() == 1);
    let mut st = StreamScanner::with_modes(std::sync::Arc::clone(&s), Some(block_cards.clone()));
    let mut out = st.feed(text);
    out += &st.finish();
    assert!(st.blocked());
    assert!(!out.contains("4111"));
    let fine = s.scan_as("Mail jane.roe@example.com today.", &*block_cards);
    assert!(!fine.blocked && fine.findings.is_empty());
}

/// Inputs the fuzzer found (fuzz/fuzz_targets/pii_scan.rs): the emitted segment
/// of a stream must be judged with its neighbours (word boundaries, a longer
/// dotted number), and no finding may straddle the emission cut.
#[test]
fn streaming_regressions_found_by_the_fuzzer() {
    let s = std::sync::Arc::new(scanner(Mode::Redact));
    for text in [
        format!("{}92.2.22.92.2.92.2..2.92.2", "9.2.".repeat(140)),
        format!(
            "{}E:8::1:::8330::::1::::718:::80::::1::::718:::8333:622 fe80::1",
            "x ".repeat(250)
        ),
        format!("{}1.2.3.4.5 and 10.0.0.1", "a".repeat(600)),
    ] {
        let expected = s.scan(&text).text;
        for cut in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let mut st = StreamScanner::new(std::sync::Arc::clone(&s));
            let out = st.feed(&text[..cut]) + &st.feed(&text[cut..]) + &st.finish();
            assert_eq!(out, expected, "cut at {cut}");
        }
    }
}

fn redacted(text: &str) -> String {
    scanner(Mode::Redact).scan(text).text
}

#[test]
fn code_is_not_taken_for_ipv6() {
    for code in [
        "std::cout << x;",
        "Foo::f();",
        "return ::CreateFileW(path);",
        "use crate::dfa::DFA;",
        "let x = f64::from_bits(b); let m = f64::MAX;",
        "`f32::` and `f64::`",
        "impl<T> Vec<T> { fn a() -> Self { Self::new() } }",
        "auto d = std::chrono::duration<int64_t, std::ratio<1, 1000>>{};",
        "$this->app::make(App\\Http\\Kernel::class); self::$x; parent::__construct();",
        "xs[1::2] + xs[::2] + xs[::-1] + xs[10::3]",
        "f :: Int -> Int",
        "Ruby: A::B::C, Perl: Foo::Bar->new",
        "ssh MD5:43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8",
        "at 12:34:56 and 2026-11-21T10:30:45.123Z",
        "uuid 123e4567-e89b-12d3-a456-426614174000, sha 9e107d9d372bb6826bd81d3542a419d6",
    ] {
        none(code);
        assert_eq!(redacted(code), code);
    }
}

#[test]
fn ipv6_must_stand_alone() {
    for glued in [
        "text2001:db8::1",
        "fe80::1text",
        "gggg:hhhh::1234",
        "2001::db8::1",
        "x:fe80::1",
    ] {
        none(glued);
    }
    one("IP_ADDRESS", "loopback ::1 only", "::1");
    one("IP_ADDRESS", "url http://[::1]:8080/", "::1");
    one("IP_ADDRESS", "at fe80::1: then", "fe80::1");
    one(
        "IP_ADDRESS",
        "src=2001:db8::8a2e:370:7334,",
        "2001:db8::8a2e:370:7334",
    );
    one(
        "IP_ADDRESS",
        "mapped ::ffff:10.0.0.1 here",
        "::ffff:10.0.0.1",
    );
}

#[test]
fn cidr_prefixes_zones_and_ports() {
    assert_eq!(
        redacted("route 10.0.0.0/24 via"),
        "route [IP_ADDRESS_REDACTED] via"
    );
    assert_eq!(redacted("net 2001:db8::/32."), "net [IP_ADDRESS_REDACTED].");
    assert_eq!(
        redacted("ping fe80::1%eth0 now"),
        "ping [IP_ADDRESS_REDACTED] now"
    );
    assert_eq!(
        redacted("http://[fe80::1%25en0]:80/"),
        "http://[[IP_ADDRESS_REDACTED]]:80/"
    );
    assert_eq!(
        redacted("inet6 fe80::1/64 scope"),
        "inet6 [IP_ADDRESS_REDACTED] scope"
    );
    assert_eq!(
        redacted("host 10.0.0.1:8080 up"),
        "host [IP_ADDRESS_REDACTED]:8080 up"
    );
    assert_eq!(
        redacted("[2001:db8::1]:443"),
        "[[IP_ADDRESS_REDACTED]]:443",
        "a port is not part of the address"
    );
    one("IP_ADDRESS", "allow 5000::/4;", "5000::/4");
    // Not a prefix length: too long, or glued to more text.
    one("IP_ADDRESS", "10.0.0.1/33", "10.0.0.1");
    one("IP_ADDRESS", "10.0.0.1/24abc", "10.0.0.1");
}

#[test]
fn mac_like_strings() {
    one(
        "MAC_ADDRESS",
        "eui64 00-1a-2b-3c-4d-5e-6f-70 ok",
        "00-1a-2b-3c-4d-5e-6f-70",
    );
    none("sha1 Fingerprint=AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01");
}

#[test]
fn internationalised_email() {
    for (text, value) in [
        (
            "mail user@mail.xn--80akhbyknj4f now",
            "user@mail.xn--80akhbyknj4f",
        ),
        (
            "mail user@xn--80akhbyknj4f.xn--p1ai now",
            "user@xn--80akhbyknj4f.xn--p1ai",
        ),
        ("Grüße an info@müller.de!", "info@müller.de"),
        ("«jörg.weiß@bücher.example»", "jörg.weiß@bücher.example"),
        ("адрес: иван@пример.рф.", "иван@пример.рф"),
        ("请联系admin@例子.中国", "admin@例子.中国"),
    ] {
        one("EMAIL", text, value);
    }
    assert_eq!(
        redacted("x user@mail.xn--80akhbyknj4f y"),
        "x [EMAIL_REDACTED] y"
    );
}

#[test]
fn iban_libya_and_dashes() {
    one(
        "IBAN",
        "LY03004217000031415926535",
        "LY03004217000031415926535",
    );
    one(
        "IBAN",
        "pay LY38 1170 5000 0062 8318 5307 1.",
        "LY38 1170 5000 0062 8318 5307 1",
    );
    one(
        "IBAN",
        "DE89-3704-0044-0532-0130-00 ok",
        "DE89-3704-0044-0532-0130-00",
    );
    none("DE89-3704 0044-0532-0130-00");
}

#[test]
fn ssn_separators_and_labels() {
    one("US_SSN", "ssn 536.22.8726", "536.22.8726");
    one("US_SSN", "ssn 536.22-8726", "536.22-8726");
    for text in [
        "SSN 536228726",
        "SSN: 536228726",
        "ssn#536228726",
        r#"{"ssn": "536228726"}"#,
        "Social Security No. 536228726",
        "social security number: 536228726",
        "social_security_number=536228726",
        "His SSN is 536228726.",
    ] {
        one("US_SSN", text, "536228726");
        assert!(redacted(text).contains("[SSN_REDACTED]"), "{text}");
        assert!(!redacted(text).contains("536"), "{text}");
    }
    assert_eq!(redacted("SSN: 536228726"), "SSN: [SSN_REDACTED]");
    // Nine digits without a label, or an SSN the SSA never issues.
    none("Order 536228726 shipped");
    none("SSN 666228726");
    none("classname 536228726");
}

#[test]
fn phone_prefixes_and_national_formats() {
    for (text, value) in [
        ("call 1-800-555-0199 now", "1-800-555-0199"),
        ("call 1 (415) 555-2671", "1 (415) 555-2671"),
        ("call 001-415-555-2671", "001-415-555-2671"),
        ("UK 020 7946 0958", "020 7946 0958"),
        ("mobile 07700 900123", "07700 900123"),
        ("Büro (030) 901820", "(030) 901820"),
        ("tél. 01 23 45 67 89", "01 23 45 67 89"),
        ("móvil 612 34 56 78", "612 34 56 78"),
        ("ufficio 06 1234 5678", "06 1234 5678"),
        ("cell 347 109 0495", "347 109 0495"),
        ("mobiel 06-12345678", "06-12345678"),
        ("ring 0044 20 7946 0958", "0044 20 7946 0958"),
    ] {
        one("PHONE", text, value);
    }
    assert_eq!(redacted("tel-1-800-555-0199"), "tel-[PHONE_REDACTED]");
    for text in [
        "dates 03.12.2024 and 12-03-24",
        "amounts 750 000 000 and 1 234 567",
        "hexdump 00 01 02 03 04 05 06 07 08 09 0a",
        "bytes d4 59 ba 05 44 90 37 e0 93 23",
        "ids 0123456789 and 01234567890",
        "ratio 01 02",
        "version 0.12.3",
    ] {
        none(text);
    }
}

#[test]
fn phone_regions_can_be_chosen() {
    let with = |regions: &[&str]| {
        Scanner::new(ScannerConfig {
            mode: Mode::Warn,
            ..ScannerConfig::default()
        })
        .expect("valid")
        .with_phone_regions(regions)
        .expect("known regions")
    };
    let default = with(DEFAULT_PHONE_REGIONS);
    assert_eq!(default.phone_regions(), DEFAULT_PHONE_REGIONS);
    assert_eq!(scanner(Mode::Warn).phone_regions(), DEFAULT_PHONE_REGIONS);
    let brazil = "ligue (11) 96123-4567";
    assert!(default.find(brazil).is_empty());
    assert_eq!(with(&["BR"]).find(brazil).len(), 1);
    assert_eq!(with(PHONE_REGIONS).find(brazil).len(), 1);
    // No national plans: North American and international numbers still are phones.
    let none = with(&[]);
    assert!(none.find("UK 020 7946 0958").is_empty());
    assert_eq!(none.find("UK +44 20 7946 0958, US (415) 555-2671").len(), 2);
    let err = Scanner::new(ScannerConfig::default())
        .expect("valid")
        .with_phone_regions(["XX"])
        .expect_err("unknown region");
    assert!(err.to_string().contains("GB"), "{err}");
}

#[test]
fn streaming_keeps_a_label_with_its_ssn() {
    let s = std::sync::Arc::new(scanner(Mode::Redact));
    let text = format!(
        "{} his SSN: 536228726 and IP 10.0.0.0/8.",
        "word ".repeat(120)
    );
    let expected = s.scan(&text).text;
    assert!(expected.contains("SSN: [SSN_REDACTED]"));
    for cut in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        let mut st = StreamScanner::new(std::sync::Arc::clone(&s));
        let out = st.feed(&text[..cut]) + &st.feed(&text[cut..]) + &st.finish();
        assert_eq!(out, expected, "cut at {cut}");
    }
}
