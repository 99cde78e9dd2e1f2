"""A seeded PII accuracy suite with independent oracles.

Faker generates values; python-stdnum (Luhn, IBAN, US SSN), phonenumbers and
the standard library's ``ipaddress`` decide independently whether each value
is valid, and only agreed-valid values are positives. Hard negatives are
values that look like PII but are not: Faker's invalid SSNs, Luhn-failing
cards, IBANs with wrong check digits (each confirmed invalid by stdnum), order
numbers, dates, UUIDs, hex digests, version strings, prices and clock times.
Every value is placed in a varied sentence context.

Three more generated suites (``generate_forms``, ``generate_network``,
``generate_code``) cover the forms values take elsewhere: national phone
formats and prefixes, labelled and dotted SSNs, IBANs with dashes and from
every country of stdnum's registry, internationalised e-mail addresses;
service logs with CIDR prefixes, zones and ports; and code in many languages
(C++, Rust, Go, PHP, Python, Haskell...) whose `::`, hashes, MAC-like strings,
timestamps, versions and UUIDs must not be taken for PII. Their positives must
be covered whole (``whole``: a prefix length or a zone left visible is a leak).

``code_corpus`` reads real source code at run time (this repository's tracked
files and some well-known open-source files installed in the environment) and
``false_findings`` judges every finding on it with the oracles (see
``is_true_finding`` for what counts as a false finding).

Run ``python tests/python/pii_accuracy.py`` for the tables in
docs/pii-accuracy.md; ``test_pii_accuracy.py`` and ``test_pii_code.py`` assert
the thresholds.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import random
import re
import secrets
import string
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from faker import Faker
from stdnum import iban as std_iban
from stdnum import luhn, numdb
from stdnum.us import ssn as std_ssn

CONTEXTS = [
    "{}",
    "Please contact {} about the invoice.",
    "ID: {}.",
    "({})",
    "Details - {} - attached",
    'She wrote "{}" on the form',
    "value={};next",
    "Line one\n{}\nline three",
    "Noted, {}, thanks!",
    "<td>{}</td>",
]


@dataclass
class Case:
    text: str
    labels: list[tuple[str, int, int]] = field(default_factory=list)


def _place(rng: random.Random, value: str, entity: str | None) -> Case:
    template = rng.choice(CONTEXTS)
    before = template.split("{}")[0]
    text = template.format(value)
    labels = [(entity, len(before), len(before) + len(value))] if entity else []
    return Case(text, labels)


def _group(digits: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        out.append(digits[i : i + s])
        i += s
    return sep.join(out)


def generate(seed: int = 2026, per_entity: int = 300) -> list[Case]:
    rng = random.Random(seed)
    Faker.seed(seed)
    fakers = {loc: Faker(loc) for loc in ["en_US", "de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT"]}
    us = fakers["en_US"]
    cases: list[Case] = []

    def add_many(entity: str, make: Callable[[], str | None]) -> None:
        made = 0
        while made < per_entity:
            v = make()
            if v:
                cases.append(_place(rng, v, entity))
                made += 1

    def email() -> str:
        return rng.choice([us.email, us.free_email, us.company_email, fakers["de_DE"].email])()

    def phone() -> str | None:
        loc = rng.choice(list(fakers))
        region = loc.split("_")[1].replace("UK", "GB")
        try:
            n = phonenumbers.parse(fakers[loc].phone_number(), region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(n):
            return None
        fmt = phonenumbers.PhoneNumberFormat
        if region == "US":
            return rng.choice(
                [
                    phonenumbers.format_number(n, fmt.NATIONAL),
                    phonenumbers.format_number(n, fmt.INTERNATIONAL),
                    phonenumbers.format_number(n, fmt.E164),
                    phonenumbers.format_number(n, fmt.NATIONAL).replace("(", "").replace(") ", "-"),
                ]
            )
        return rng.choice(
            [phonenumbers.format_number(n, fmt.INTERNATIONAL), phonenumbers.format_number(n, fmt.E164)]
        )

    def ssn() -> str | None:
        v = us.ssn()
        if not std_ssn.is_valid(v) or v.replace("-", "") in {
            "078051120",
            "219099999",
            "457555462",
            "123456789",
        }:
            return None
        return v if rng.random() < 0.7 else v.replace("-", " ")

    def card() -> str | None:
        kind = rng.choice(["visa16", "mastercard", "amex", "discover", "diners", "jcb16", "visa13"])
        digits = us.credit_card_number(kind)
        if not luhn.is_valid(digits):
            return None
        # Faker's JCB numbers use any "35" prefix; JCB's registered range is 3528-3589.
        if kind == "jcb16" and not 3528 <= int(digits[:4]) <= 3589:
            return None
        if kind == "amex":
            return _group(digits, [4, 6, 5], rng.choice([" ", "-", ""]))
        if len(digits) == 16:
            return _group(digits, [4, 4, 4, 4], rng.choice([" ", "-", ""]))
        return digits

    def iban() -> str | None:
        loc = rng.choice(["de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT"])
        v = fakers[loc].iban()
        if not std_iban.is_valid(v):
            return None
        return std_iban.format(v) if rng.random() < 0.5 else std_iban.compact(v)

    def ip() -> str:
        if rng.random() < 0.6:
            return us.ipv4()
        addr = ipaddress.IPv6Address(us.ipv6())
        return addr.compressed if rng.random() < 0.5 else addr.exploded

    def mac() -> str:
        v = us.mac_address()
        return rng.choice([v, v.upper(), v.replace(":", "-")])

    alnum = string.ascii_letters + string.digits

    def key() -> str:
        r = rng.random()
        tok = "".join(secrets.choice(alnum) for _ in range(40))
        if r < 0.2:
            return "sk-proj-" + tok
        if r < 0.35:
            return "sk-ant-api03-" + tok
        if r < 0.5:
            return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        if r < 0.65:
            return "ghp_" + tok[:36]
        if r < 0.75:
            return "xoxb-" + "".join(secrets.choice(string.digits) for _ in range(12)) + "-" + tok[:24]
        if r < 0.9:
            return "AIza" + tok[:35]
        return "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + tok

    for entity, make in [
        ("EMAIL", email),
        ("PHONE", phone),
        ("US_SSN", ssn),
        ("CREDIT_CARD", card),
        ("IBAN", iban),
        ("IP_ADDRESS", ip),
        ("MAC_ADDRESS", mac),
        ("API_KEY", key),
    ]:
        add_many(entity, make)

    def bad_card() -> str:
        d = us.credit_card_number("visa16")
        last = (int(d[-1]) + rng.randint(1, 9)) % 10
        bad = d[:-1] + str(last)
        assert not luhn.is_valid(bad)
        return _group(bad, [4, 4, 4, 4], " ")

    def bad_iban() -> str:
        v = std_iban.compact(fakers["de_DE"].iban())
        bad = v[:2] + f"{(int(v[2:4]) + rng.randint(1, 50)) % 100:02d}" + v[4:]
        return bad if not std_iban.is_valid(bad) else bad_iban()

    def bad_ssn() -> str:
        v = us.invalid_ssn()
        assert not std_ssn.is_valid(v)
        return v

    negatives: list[Callable[[], str]] = [
        bad_card,
        bad_iban,
        bad_ssn,
        lambda: f"Order #{rng.randint(10**7, 10**12)}",
        lambda: us.date(pattern=rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%m.%d.%Y", "%B %d, %Y"])),
        lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        lambda: f"{rng.getrandbits(160):040x}",
        lambda: f"{rng.getrandbits(256):064x}",
        lambda: f"v{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        lambda: f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}-beta",
        lambda: f"${rng.randint(1, 99_999):,}.{rng.randint(0, 99):02d}",
        lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        # Quantities and counts. (Space-separated 3-2-4 / 3-3-4 digit groups are NOT used:
        # written that way they are an SSN or a US phone number by any reading.)
        lambda: f"{rng.randint(1, 99)} boxes of {rng.randint(1, 999)} units, {rng.randint(1, 9999)} total",
    ]
    for _ in range(per_entity * 4):
        cases.append(_place(rng, rng.choice(negatives)(), None))
    rng.shuffle(cases)
    return cases


ENTITIES = ["EMAIL", "PHONE", "US_SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "MAC_ADDRESS", "API_KEY"]


def evaluate(
    scan: Callable[[str], list[tuple[str, int, int]]], cases: list[Case]
) -> dict[str, dict[str, float]]:
    """Per entity: a finding is a true positive if it overlaps a label of the same entity.
    ``whole`` is the share of labels that one such finding covers entirely."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    whole: Counter[str] = Counter()
    for case in cases:
        found = scan(case.text)
        matched: set[int] = set()
        for entity, start, end in found:
            hit = next(
                (
                    i
                    for i, (e, s, t) in enumerate(case.labels)
                    if e == entity and start < t and s < end and i not in matched
                ),
                None,
            )
            if hit is None:
                fp[entity] += 1
            else:
                matched.add(hit)
                tp[entity] += 1
                _, s, t = case.labels[hit]
                whole[entity] += start <= s and end >= t
        for i, (e, _, _) in enumerate(case.labels):
            if i not in matched:
                fn[e] += 1
    report = {}
    for e in ENTITIES:
        p = tp[e] / (tp[e] + fp[e]) if tp[e] + fp[e] else 1.0
        r = tp[e] / (tp[e] + fn[e]) if tp[e] + fn[e] else 1.0
        w = whole[e] / (tp[e] + fn[e]) if tp[e] + fn[e] else 1.0
        report[e] = {"precision": p, "recall": r, "whole": w, "tp": tp[e], "fp": fp[e], "fn": fn[e]}
    return report


def iron_cage_scan() -> Callable[[str], list[tuple[str, int, int]]]:
    import iron_cage as ic

    scanner = ic.PiiScanner(mode="warn", hmac_key=b"accuracy-suite-key")
    return lambda text: [(f.entity, f.start, f.end) for f in scanner.scan(text).findings]


# ---------------------------------------------------------------------------
# The forms values take: national phone formats, SSN labels, IBAN separators
# and countries, internationalised e-mail, CIDR prefixes, zones and ports.

# The regions whose national phone formats the scanner reads by default, and Faker's locale for each.
PHONE_REGIONS = {"GB": "en_GB", "DE": "de_DE", "FR": "fr_FR", "ES": "es_ES", "IT": "it_IT", "NL": "nl_NL"}
# Fixed and mobile numbers are people's; toll-free, premium, shared-cost and pager numbers are not generated.
_PERSONAL = {
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}

SSN_LABELS = [
    "SSN {}",
    "SSN: {}",
    "SSN#{}",
    "ssn={}",
    '"ssn": "{}"',
    "Social Security No. {}",
    "social security number: {}",
    "Social Security Number {}",
    "social_security_number={}",
    "His SSN is {}.",
]

# Interface names for IPv6 zones.
ZONES = ["eth0", "en0", "wlan1", "enp3s0", "br-lan", "eth0.100", "lo", "12", "3"]

# Contexts in scripts other than Latin, for internationalised addresses.
INTL_CONTEXTS = [
    "Grüße, schreiben Sie an {} bitte.",
    "Пишите на {} сегодня",
    "Γράψτε στο {} σήμερα",
    "请联系{}。",
    "連絡先 {}",
    "«{}»",
]


def _make(rng: random.Random, template: str, value: str, entity: str) -> Case:
    before = template.split("{}")[0]
    return Case(template.format(value), [(entity, len(before), len(before) + len(value))])


def iban_for(rng: random.Random, cc: str, structure: str) -> str:
    """A valid IBAN of country ``cc`` with a random BBAN of the registry's ``structure``."""
    alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}
    bban = "".join(
        "".join(rng.choice(alphabet[kind]) for _ in range(int(n)))
        for n, kind in re.findall(r"(\d+)!([nac])", structure)
    )
    number = cc + "00" + bban
    number = cc + std_iban.calc_check_digits(number) + bban
    assert std_iban.is_valid(number, check_country=False), number
    return number


def iban_registry() -> list[tuple[str, str]]:
    """(country code, BBAN structure) for every country in python-stdnum's IBAN registry."""
    return [(cc, props["bban"]) for _, cc, _, props, _ in numdb.get("iban").prefixes]


def _idn_label(faker: Faker) -> str | None:
    """A lower-case domain label from a Faker name with letters beyond ASCII."""
    label = re.sub(r"[^\w-]", "", faker.last_name().lower()).strip("-_").replace("_", "")
    if not label or label.isascii():
        return None
    try:
        label.encode("idna")
    except UnicodeError:
        return None
    return label


def generate_forms(seed: int = 2026, per_family: int = 200) -> dict[str, list[Case]]:
    """Positives in the forms the Faker suite does not write, each checked by an oracle, and
    the hard negatives that these forms must not be confused with; by family."""
    rng = random.Random(seed)
    fakers = {
        loc: Faker(loc) for loc in [*PHONE_REGIONS.values(), "en_US", "ru_RU", "el_GR", "zh_CN", "ja_JP"]
    }
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed + i)
    us = fakers["en_US"]
    fmt = phonenumbers.PhoneNumberFormat
    families: dict[str, list[Case]] = {}

    def fill(name: str, make: Callable[[], Case | None], n: int = per_family) -> None:
        out: list[Case] = []
        while len(out) < n:
            case = make()
            if case is not None:
                out.append(case)
        families[name] = out

    def national_phone() -> Case | None:
        region, loc = rng.choice(list(PHONE_REGIONS.items()))
        try:
            n = phonenumbers.parse(fakers[loc].phone_number(), region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(n) or phonenumbers.number_type(n) not in _PERSONAL:
            return None
        national = phonenumbers.format_number(n, fmt.NATIONAL)
        variants = [national]
        if region == "FR":
            variants += [national.replace(" ", "."), national.replace(" ", "-")]
        if national.startswith("0") and " " in national and region != "FR":
            area, rest = national.split(" ", 1)
            variants += [f"({area}) {rest}", f"{area}-{rest.replace(' ', '')}"]
        variants.append(phonenumbers.format_number(n, fmt.INTERNATIONAL).replace("+", "00", 1))
        value = rng.choice(variants)
        # The oracle reads the variant back as the same number.
        back = phonenumbers.parse("+" + value[2:] if value.startswith("00") else value, region)
        if back != n:
            return None
        return _place(rng, value, "PHONE")

    def prefixed_phone() -> Case | None:
        try:
            n = phonenumbers.parse(us.phone_number(), "US")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(n):
            return None
        d = str(n.national_number)
        value = rng.choice(
            [
                f"1-{d[:3]}-{d[3:6]}-{d[6:]}",
                f"1 ({d[:3]}) {d[3:6]}-{d[6:]}",
                f"1.{d[:3]}.{d[3:6]}.{d[6:]}",
                f"001-{d[:3]}-{d[3:6]}-{d[6:]}",
                f"+1-{d[:3]}-{d[3:6]}-{d[6:]}",
            ]
        )
        template = rng.choice(["tel-{}", "call {}", "phone:{}", "({})", "Tel. {}."])
        return _make(rng, template, value, "PHONE")

    def ssn_form() -> Case | None:
        v = us.ssn()
        if not std_ssn.is_valid(v) or v.replace("-", "") in {"078051120", "219099999", "457555462"}:
            return None
        digits = v.replace("-", "")
        if rng.random() < 0.5:
            seps = rng.choice([(".", "."), ("-", " "), (" ", "-"), (".", "-"), ("-", "."), (" ", ".")])
            return _place(rng, f"{digits[:3]}{seps[0]}{digits[3:5]}{seps[1]}{digits[5:]}", "US_SSN")
        return _make(rng, rng.choice(SSN_LABELS), digits, "US_SSN")

    def iban_form() -> Case | None:
        cc, structure = rng.choice(iban_registry())
        v = iban_for(rng, cc, structure)
        return _place(rng, rng.choice([v, std_iban.format(v), std_iban.format(v, "-")]), "IBAN")

    def idn_email() -> Case | None:
        script = rng.choice(["de_DE", "ru_RU", "el_GR", "zh_CN", "ja_JP"])
        label = _idn_label(fakers[script])
        if label is None:
            return None
        tld = {"de_DE": "de", "ru_RU": "рф", "el_GR": "ελ", "zh_CN": "中国", "ja_JP": "jp"}[script]
        domain = f"{label}.{rng.choice([tld, 'com', 'org'])}"
        if rng.random() < 0.4:
            domain = domain.encode("idna").decode("ascii")
        if script in ("de_DE", "ru_RU", "el_GR") and rng.random() < 0.5:
            local = re.sub(r"[^\w]", "", fakers[script].first_name().lower())
        else:
            local = us.user_name()
        value = f"{local}@{domain}"
        if not _email_oracle(value):
            return None
        return _make(rng, rng.choice(INTL_CONTEXTS + CONTEXTS), value, "EMAIL")

    def clock(sep: str) -> str:
        return f"{rng.randint(0, 23):02d}{sep}{rng.randint(0, 59):02d}"

    fill("PHONE national formats", national_phone)
    fill("PHONE 1- / 001- prefixes", prefixed_phone, per_family // 2)
    fill("US_SSN dots, mixed, labels", ssn_form)
    fill("IBAN every country, dashes", iban_form)
    fill("EMAIL internationalised", idn_email)

    negatives: list[Callable[[], str]] = [
        # Day-month-year dates in the formats national phone numbers also use.
        lambda: us.date(pattern=rng.choice(["%d.%m.%Y", "%d-%m-%Y", "%d.%m.%y", "%m-%d-%y"])),
        # Amounts with spaces between thousands.
        lambda: f"{rng.randint(1, 999)} {rng.randint(0, 999):03d} {rng.randint(0, 999):03d} €",
        lambda: f"{rng.randint(1, 999)} 000 000",
        # Hex dumps and tables of two-digit numbers.
        lambda: " ".join(f"{rng.getrandbits(8):02x}" for _ in range(16)),
        lambda: " ".join(f"{rng.randint(0, 99):02d}" for _ in range(rng.randint(6, 12))),
        lambda: f"{clock('.')}-{clock('.')}",
        # Nine digits without a label, and labelled numbers the SSA never issues.
        lambda: f"Order {rng.randint(10**8, 10**9 - 1)} shipped",
        lambda: rng.choice(SSN_LABELS).format(f"{rng.choice([0, 666, 900 + rng.randint(0, 99)]):03d}123456"),
        # Zero-padded ids and version numbers.
        lambda: f"{rng.randint(0, 999):04d} {rng.randint(0, 9999):04d}",
        lambda: f"0.{rng.randint(0, 20)}.{rng.randint(0, 99)}",
    ]
    families["hard negatives of these forms"] = [
        _place(rng, rng.choice(negatives)(), None) for _ in range(per_family * 2)
    ]
    return families


def _email_oracle(value: str) -> bool:
    """An address by the standard library's IDNA codec: the domain encodes, its top-level
    domain is letters, and the local part is letters, digits and ``._%+-``."""
    local, _, domain = value.partition("@")
    if not local or len(local.encode()) > 64 or "." not in domain:
        return False
    if not all(ch.isalnum() or ch in "._%+-" for ch in local) or local[0] == "." or local[-1] == ".":
        return False
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        tld = ascii_domain.rsplit(".", 1)[1].encode("ascii").decode("idna")
    except (UnicodeError, IndexError):
        return False
    return tld.isalpha() and len(ascii_domain) <= 253


def generate_network(seed: int = 2026, lines: int = 300) -> list[Case]:
    """Log and configuration lines: addresses with prefixes, zones and ports among timestamps,
    durations, ids, sizes and hashes. Each address's label covers its prefix length or zone
    (not a port), each hardware address is labelled too; the rest must not be found."""
    rng = random.Random(seed)
    f = Faker("en_US")
    f.seed_instance(seed)

    def v4() -> str:
        return f.ipv4()

    def v6() -> str:
        addr = ipaddress.IPv6Address(f.ipv6())
        return rng.choice([addr.compressed, addr.exploded])

    def link_local() -> str:
        return str(ipaddress.IPv6Address((0xFE80 << 112) | rng.getrandbits(64)))

    def net4() -> str:
        n = f.ipv4(network=True)
        return str(ipaddress.ip_network(n))

    def net6() -> str:
        return str(ipaddress.ip_network(f.ipv6(network=True)))

    def mac() -> str:
        return f.mac_address()

    def ts() -> str:
        return f.date_time(tzinfo=None).strftime(
            rng.choice(["%Y-%m-%dT%H:%M:%S", "%b %d %H:%M:%S", "%H:%M:%S"])
        )

    def pid() -> str:
        return str(rng.randint(2, 99999))

    # Each template: text with {} slots, and what goes in each slot: a generator and its label.
    templates: list[tuple[str, list[tuple[Callable[[], str], str | None]]]] = [
        (
            "{} sshd[{}]: Accepted publickey for deploy from {} port {} ssh2",
            [(ts, None), (pid, None), (v4, "IP_ADDRESS"), (lambda: str(rng.randint(1024, 65535)), None)],
        ),
        (
            '{} - - [{}] "GET /api/v1/items?id={} HTTP/1.1" 200 {} "-" "curl/8.{}.0"',
            [
                (v4, "IP_ADDRESS"),
                (ts, None),
                (pid, None),
                (pid, None),
                (lambda: str(rng.randint(0, 9)), None),
            ],
        ),
        (
            "    inet {} brd {} scope global dynamic eth0",
            [(lambda: f"{v4()}/{rng.randint(8, 30)}", "IP_ADDRESS"), (v4, "IP_ADDRESS")],
        ),
        ("    inet6 {} scope link", [(lambda: f"{link_local()}/64", "IP_ADDRESS")]),
        ("    link/ether {} brd {}", [(mac, "MAC_ADDRESS"), (lambda: "ff:ff:ff:ff:ff:ff", "MAC_ADDRESS")]),
        ("route add {} via {} dev eth0 metric {}", [(net4, "IP_ADDRESS"), (v4, "IP_ADDRESS"), (pid, None)]),
        ("allow {}; # office", [(net6, "IP_ADDRESS")]),
        ("ping6 -c 3 {}", [(lambda: f"{link_local()}%{rng.choice(ZONES)}", "IP_ADDRESS")]),
        ("curl -g http://[{}]/status", [(lambda: f"{link_local()}%25{rng.choice(ZONES)}", "IP_ADDRESS")]),
        (
            "upstream backend: server {}:{}; server [{}]:{};",
            [
                (v4, "IP_ADDRESS"),
                (lambda: str(rng.randint(1, 65535)), None),
                (v6, "IP_ADDRESS"),
                (lambda: str(rng.randint(1, 65535)), None),
            ],
        ),
        (
            'tcp  LISTEN 0 128 {}:{} users:(("nginx",pid={},fd=6))',
            [(v4, "IP_ADDRESS"), (lambda: str(rng.randint(1, 65535)), None), (pid, None)],
        ),
        (
            "{} traceroute hop {}  {} ms  {} ms",
            [
                (ts, None),
                (lambda: str(rng.randint(1, 30)), None),
                (v4, "IP_ADDRESS"),
                (lambda: f"{rng.uniform(0, 300):.3f}", None),
            ],
        ),
        (
            "DHCPACK on {} to {} (host-{}) via eth1",
            [(v4, "IP_ADDRESS"), (mac, "MAC_ADDRESS"), (lambda: f"{rng.getrandbits(24):06x}", None)],
        ),
        ("mapped ::ffff:{} from {}", [(v4, "IP_ADDRESS"), (ts, None)]),
        # No address: timestamps, durations, sizes, request ids, hashes, versions.
        (
            "{} INFO req={} took {}:{}.{} size={} KiB build {} sha={}",
            [
                (ts, None),
                (lambda: str(uuid.UUID(int=rng.getrandbits(128))), None),
                (lambda: str(rng.randint(0, 59)), None),
                (lambda: f"{rng.randint(0, 59):02}", None),
                (lambda: f"{rng.randint(0, 999):03}", None),
                (pid, None),
                (lambda: f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}", None),
                (lambda: f"{rng.getrandbits(160):040x}", None),
            ],
        ),
        (
            "ssh-keygen -l: 2048 MD5:{} deploy@ci (RSA)",
            [(lambda: ":".join(f"{rng.getrandbits(8):02x}" for _ in range(16)), None)],
        ),
        ("fingerprint SHA1 {}", [(lambda: ":".join(f"{rng.getrandbits(8):02X}" for _ in range(20)), None)]),
        (
            "uptime {}:{}:{}, load average: 0.{}, 0.{}",
            [
                (lambda: str(rng.randint(0, 99)), None),
                (lambda: f"{rng.randint(0, 59):02}", None),
                (lambda: f"{rng.randint(0, 59):02}", None),
                (pid, None),
                (pid, None),
            ],
        ),
    ]
    cases: list[Case] = []
    for _ in range(lines):
        template, slots = rng.choice(templates)
        parts = template.split("{}")
        text, labels = parts[0], []
        for (make, label), after in zip(slots, parts[1:], strict=True):
            value = make()
            if label == "IP_ADDRESS":
                assert ipaddress.ip_interface(value.replace("%25", "%")), value
            if label:
                labels.append((label, len(text), len(text) + len(value)))
            text += value + after
        cases.append(Case(text, labels))
    return cases


def _ident(rng: random.Random, f: Faker, style: str = "camel") -> str:
    words = [re.sub(r"[^a-z]", "", w.lower()) or "x" for w in f.words(rng.randint(1, 3))]
    if style == "camel":
        return "".join(w.capitalize() for w in words)
    if style == "upper":
        return "_".join(words).upper()
    return "_".join(words)


def generate_code(seed: int = 2026, snippets: int = 400) -> list[Case]:
    """Lines of code in many languages. None has PII except a literal that a template marks
    (an address or a mail in a string), which is labelled; everything else must not be found:
    `::` paths, slices, type signatures, hashes, fingerprints, timestamps, versions, UUIDs."""
    rng = random.Random(seed)
    f = Faker("en_US")
    f.seed_instance(seed)

    def cls() -> str:
        return _ident(rng, f)

    def fn() -> str:
        return _ident(rng, f, "snake")

    def hexs(n: int) -> str:
        return "".join(rng.choice("0123456789abcdef") for _ in range(n))

    def num() -> str:
        return str(rng.randint(0, 4096))

    def digit() -> int:
        return rng.randint(1, 9)

    def dotted4() -> str:
        return ".".join(str(rng.randint(0, 20)) for _ in range(4))

    def clock(sep: str) -> str:
        return f"{rng.randint(0, 23):02d}{sep}{rng.randint(0, 59):02d}"

    negatives: list[Callable[[], str]] = [
        # C++
        lambda: f"std::vector<{cls()}> {fn()} = std::make_shared<{cls()}>({num()});",
        lambda: f"std::cout << {fn()} << std::endl; std::cerr << ::{cls()}();",
        lambda: f"auto d = std::chrono::duration<int64_t, std::ratio<1, {num()}>>{{}};",
        lambda: f"return ::{cls()}({fn()}, {num()}); // {cls()}::{fn()}",
        lambda: f"class {cls()} : public {cls()}::{cls()} {{ void {fn()}() override; }};",
        # Rust
        lambda: f"use std::collections::HashMap; use crate::{fn()}::{cls()};",
        lambda: f"let x = f64::from_bits({num()}); let m = f32::MAX; let e = f64::EPSILON;",
        lambda: f"impl<T> {cls()} for {cls()}<T> {{ fn {fn()}(&self) -> Self {{ Self::new() }} }}",
        lambda: f"let v: Vec<u8> = {cls()}::<u32>::default().into_iter().map(|a| a * {num()}).collect();",
        lambda: f"#[derive(Debug)] enum {cls()} {{ A, B }} match e {{ {cls()}::A => 1, _ => 2 }}",
        # Go
        lambda: f"func (s *{cls()}) {cls()}(ctx context.Context) error {{ return nil }}",
        lambda: f'fmt.Printf("%d:%02d\\n", {num()}, {num()}); time.Sleep({num()} * time.Millisecond)',
        lambda: f'x := map[string]int{{"{fn()}": {num()}}}; go func() {{ ch <- {num()} }}()',
        # PHP
        lambda: f"use App\\Http\\Controllers\\{cls()}; use App\\Models\\{cls()};",
        lambda: f"$x = {cls()}::{fn()}($this->{fn()}); parent::__construct(); self::${fn()};",
        lambda: f"return static::{_ident(rng, f, 'upper')} ?? {cls()}::class;",
        # Python
        lambda: f"def {fn()}(x: int, y: dict[str, list[int]]) -> Optional[{cls()}]:",
        lambda: f"rows = data[{digit()}::{digit()}] + data[::-1] + data[::{digit()}]",
        lambda: f"{fn()}: Final = 0o{rng.randint(0, 7)}{rng.randint(0, 7)}{rng.randint(0, 7)}",
        lambda: f"grid[{rng.randint(1, 99)}::, ::{rng.randint(1, 9)}] = {fn()}[::, {rng.randint(0, 9)}]",
        # Haskell, Ruby, Perl
        lambda: f"{fn()} :: Int -> [{cls()}] -> Maybe Int",
        lambda: f"{cls()}::{cls()}.new({num()}); {cls()}::{cls()}->new;",
        # Hashes, fingerprints, ids, times, versions
        lambda: f"commit {hexs(40)} (HEAD -> main) merged {hexs(7)}",
        lambda: f"image@sha256:{hexs(64)}",
        lambda: ":".join(f"{rng.getrandbits(8):02x}" for _ in range(rng.choice([16, 20, 32]))),
        lambda: ":".join(hexs(4) for _ in range(rng.choice([3, 5, 6]))),
        lambda: f"{hexs(8)}:{hexs(8)}:{hexs(8)}",
        lambda: f"id {uuid.UUID(int=rng.getrandbits(128))} at {clock(':')}:{rng.randint(0, 59):02}",
        lambda: f'__version__ = "{dotted4()}"',
        lambda: f"{fn()}=={dotted4()}",
        lambda: f"see section {dotted4()}",
        lambda: f"{hexs(2)}:{hexs(2)}:{hexs(2)} {hexs(2)}-{hexs(2)}-{hexs(2)}",
        lambda: f"defaults to {rng.randint(1, 9)}000::",
    ]

    def mail() -> str:
        return f.email()

    positives: list[tuple[str, Callable[[], str], str]] = [
        ('net.ParseIP("{}")', lambda: ipaddress.IPv6Address(f.ipv6()).compressed, "IP_ADDRESS"),
        ('std::string host = "{}";', f.ipv4, "IP_ADDRESS"),
        ('ADMIN_EMAIL: Final = "{}"', mail, "EMAIL"),
        ("$mailer->to('{}');", mail, "EMAIL"),
        ('let peer: IpAddr = "{}".parse()?;', lambda: ipaddress.IPv6Address(f.ipv6()).exploded, "IP_ADDRESS"),
    ]
    cases: list[Case] = []
    for _ in range(snippets):
        if rng.random() < 0.2:
            template, make, entity = rng.choice(positives)
            cases.append(_make(rng, template, make(), entity))
        else:
            cases.append(Case(rng.choice(negatives)()))
    return cases


# ---------------------------------------------------------------------------
# Real code, read at run time.

# Source files of this repository, and of packages installed with the test tools
# (module, glob), chosen for the languages and the networking code they hold.
REPO_SUFFIXES = (
    ".rs",
    ".py",
    ".pyi",
    ".md",
    ".toml",
    ".ts",
    ".vue",
    ".js",
    ".json",
    ".yml",
    ".yaml",
    ".sh",
    ".txt",
    ".cfg",
    ".ini",
    ".html",
    ".css",
    ".lock",
)
INSTALLED_FILES = [
    ("greenlet", "*.cpp"),
    ("greenlet", "*.hpp"),
    ("greenlet", "platform/*.h"),
    ("mypyc", "lib-rt/*.c"),
    ("mypyc", "lib-rt/*.h"),
    ("urllib3", "util/*.py"),
    ("requests", "utils.py"),
    ("httpx", "_urls.py"),
    ("httpx", "_urlparse.py"),
    ("werkzeug", "serving.py"),
    ("pydantic", "networks.py"),
    ("idna", "core.py"),
    ("packaging", "specifiers.py"),
    ("pygments", "lexers/c_cpp.py"),
    ("pygments", "lexers/rust.py"),
    ("pygments", "lexers/go.py"),
    ("pygments", "lexers/php.py"),
    ("mypy", "typeshed/stdlib/ipaddress.pyi"),
    ("mypy", "typeshed/stdlib/socket.pyi"),
]


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def code_corpus() -> list[tuple[str, str]]:
    """(name, text) of this repository's tracked text files and of the installed files in
    ``INSTALLED_FILES`` that are present (nothing is copied: files are read where they are)."""
    root = repo_root()
    out: list[tuple[str, str]] = []
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    for name in sorted(tracked):
        path = root / name
        if name.endswith(REPO_SUFFIXES) and path.is_file() and path.stat().st_size < 2_000_000:
            try:
                out.append((name, path.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                continue
    for module, pattern in INSTALLED_FILES:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            continue
        base = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(base.glob(pattern)):
            out.append(
                (f"{module}/{path.relative_to(base)}", path.read_text(encoding="utf-8", errors="replace"))
            )
    return out


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _standalone(text: str, start: int, end: int, port_ok: bool) -> bool:
    """Not glued to an identifier: no word character on either side, and no `:` or `.`
    joining it to one (`a::b`, `x.y`); a port (`:8080`, `:port`) may follow an IPv4 address."""
    b1, b2 = text[start - 1 : start], text[max(0, start - 2) : start - 1]
    a1, a2 = text[end : end + 1], text[end + 1 : end + 2]
    if (b1 and _word(b1)) or (a1 and _word(a1)):
        return False
    if b1 in (":", ".") and b1 and b2 and (_word(b2) or b2 == ":"):
        return False
    if a1 == ":" and port_ok:
        return True
    return not (a1 in (":", ".") and a1 and a2 and (_word(a2) or a2 == ":"))


_VERSIONED = re.compile(r"(?:\b(?:version|__version__|ver|section)\b[\s\"':=]*|[=<>~!]=\s*|§\s*)$", re.I)


def is_true_finding(entity: str, text: str, start: int, end: int) -> bool:
    """Whether a finding on real code is the entity, judged independently of the scanner:

    - EMAIL: an address by ``_email_oracle`` (test and example addresses count as true);
    - PHONE: a valid number for phonenumbers, read in the US or one of ``PHONE_REGIONS``;
    - US_SSN, CREDIT_CARD, IBAN: python-stdnum (SSA rules; Luhn and 13-19 digits; mod-97);
    - IP_ADDRESS: ``ipaddress.ip_interface`` parses it (prefix and zone included), it stands
      alone (``_standalone``), and no version word or specifier, ``§`` or "section" precedes it;
    - MAC_ADDRESS: six or eight hex pairs, or three dotted quads, standing alone;
    - API_KEY: a provider key shape; a key in a test is the kind of value the scanner must catch.
    Anything else is a false finding."""
    value = text[start:end]
    digits = re.sub(r"\D", "", value)
    if entity == "EMAIL":
        return _email_oracle(value)
    if entity == "PHONE":
        candidates: list[tuple[str, str | None]]
        if value.startswith(("+", "00")):
            candidates = [("+" + value[2:] if value.startswith("00") else value, None)]
        else:
            candidates = [(value, region) for region in ["US", *PHONE_REGIONS]]
        for number, region in candidates:
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
                    return True
            except phonenumbers.NumberParseException:
                continue
        return False
    if entity == "US_SSN":
        return len(digits) == 9 and std_ssn.is_valid(f"{digits[:3]}-{digits[3:5]}-{digits[5:]}")
    if entity == "CREDIT_CARD":
        return 13 <= len(digits) <= 19 and luhn.is_valid(digits)
    if entity == "IBAN":
        return std_iban.is_valid(value)
    if entity == "IP_ADDRESS":
        try:
            ipaddress.ip_interface(value.replace("%25", "%"))
        except ValueError:
            return False
        is_v4 = ":" not in value
        return _standalone(text, start, end, port_ok=is_v4) and not _VERSIONED.search(
            text[max(0, start - 24) : start]
        )
    if entity == "MAC_ADDRESS":
        shape = re.fullmatch(
            r"[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2})?"
            r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
            value,
        )
        return shape is not None and _standalone(text, start, end, port_ok=False)
    if entity == "API_KEY":
        prefixes = (
            "sk-",
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "gh",
            "github_pat_",
            "xox",
            "AIza",
            "eyJ",
            "-----BEGIN",
        )
        return value.startswith(prefixes)
    return False


@dataclass
class CorpusReport:
    bytes: int
    files: int
    true: Counter[str]
    false: list[tuple[str, str, str]]

    @property
    def false_per_100kb(self) -> float:
        return len(self.false) / (self.bytes / 100_000)


def false_findings(
    scan: Callable[[str], list[tuple[str, int, int]]], corpus: list[tuple[str, str]]
) -> CorpusReport:
    """Every finding on ``corpus`` judged by ``is_true_finding``: the false ones as
    (file, entity, the finding with 20 characters around it), the true ones counted by entity."""
    true: Counter[str] = Counter()
    false: list[tuple[str, str, str]] = []
    size = 0
    for name, text in corpus:
        size += len(text.encode())
        for entity, start, end in scan(text):
            if is_true_finding(entity, text, start, end):
                true[entity] += 1
            else:
                false.append((name, entity, text[max(0, start - 20) : end + 20]))
    return CorpusReport(size, len(corpus), true, false)


def _table(report: dict[str, dict[str, float]], entities: list[str] | None = None) -> None:
    print("| entity | precision | recall | whole | TP | FP | FN |")
    print("|---|---|---|---|---|---|---|")
    for e, m in report.items():
        if entities is None or e in entities or m["tp"] + m["fp"] + m["fn"]:
            print(
                f"| {e} | {m['precision']:.4f} | {m['recall']:.4f} | {m['whole']:.4f} "
                f"| {m['tp']} | {m['fp']} | {m['fn']} |"
            )


def main() -> None:
    scan = iron_cage_scan()
    cases = generate()
    report = evaluate(scan, cases)
    print(f"{len(cases)} cases (seed 2026, 300 positives per entity, {len(cases) - 2400} hard negatives)\n")
    _table(report)
    for name, family in generate_forms().items():
        print(f"\n{name}: {len(family)} cases\n")
        _table(evaluate(scan, family), [])
    network = generate_network()
    print(f"\nnetwork text: {len(network)} lines\n")
    _table(evaluate(scan, network), [])
    code = generate_code()
    print(f"\ngenerated code: {len(code)} snippets\n")
    _table(evaluate(scan, code), [])
    corpus = false_findings(scan, code_corpus())
    size = f"{corpus.files} files, {corpus.bytes / 1e6:.2f} MB"
    print(
        f"\nreal code: {size}: {len(corpus.false)} false findings, {corpus.false_per_100kb:.3f} per 100 KB; "
        f"true by entity: {dict(sorted(corpus.true.items()))}"
    )
    for name, entity, around in corpus.false:
        print(f"  false {entity} in {name}: {around!r}")


if __name__ == "__main__":
    main()
