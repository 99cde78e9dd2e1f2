//! The entities iron-cage detects, their severities and redaction tokens.
//!
//! | entity | severity | token |
//! |---|---|---|
//! | EMAIL | high | `[EMAIL_REDACTED]` |
//! | PHONE | medium | `[PHONE_REDACTED]` |
//! | US_SSN | critical | `[SSN_REDACTED]` |
//! | CREDIT_CARD | critical | `[CREDIT_CARD_REDACTED]` |
//! | IBAN | high | `[IBAN_REDACTED]` |
//! | IP_ADDRESS | low | `[IP_ADDRESS_REDACTED]` |
//! | MAC_ADDRESS | low | `[MAC_ADDRESS_REDACTED]` |
//! | API_KEY | critical | `[API_KEY_REDACTED]` |

/// How bad a leak of the entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Network identifiers.
    Low,
    /// Contact details that identify a person with effort.
    Medium,
    /// Direct identifiers and financial accounts.
    High,
    /// Government ids, card numbers and credentials.
    Critical,
}

impl Severity {
    /// `low`, `medium`, `high`, `critical`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses the names above.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// A built-in entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// E-mail address.
    Email,
    /// Phone number (North American formats, international `+` and `00`
    /// numbers, national formats of the configured regions).
    Phone,
    /// US Social Security number.
    UsSsn,
    /// Payment card number.
    CreditCard,
    /// International bank account number.
    Iban,
    /// IPv4 or IPv6 address.
    IpAddress,
    /// Hardware (MAC) address.
    MacAddress,
    /// A credential: provider API key, token, JWT, private key.
    ApiKey,
}

impl Entity {
    /// Every built-in entity.
    pub const ALL: [Entity; 8] = [
        Entity::Email,
        Entity::Phone,
        Entity::UsSsn,
        Entity::CreditCard,
        Entity::Iban,
        Entity::IpAddress,
        Entity::MacAddress,
        Entity::ApiKey,
    ];

    /// The public name (`EMAIL`, `US_SSN`...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Entity::Email => "EMAIL",
            Entity::Phone => "PHONE",
            Entity::UsSsn => "US_SSN",
            Entity::CreditCard => "CREDIT_CARD",
            Entity::Iban => "IBAN",
            Entity::IpAddress => "IP_ADDRESS",
            Entity::MacAddress => "MAC_ADDRESS",
            Entity::ApiKey => "API_KEY",
        }
    }

    /// Parses a public name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Entity::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(name))
    }

    /// How bad a leak is.
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Entity::UsSsn | Entity::CreditCard | Entity::ApiKey => Severity::Critical,
            Entity::Email | Entity::Iban => Severity::High,
            Entity::Phone => Severity::Medium,
            Entity::IpAddress | Entity::MacAddress => Severity::Low,
        }
    }

    /// What replaces it in redact mode.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Entity::Email => "[EMAIL_REDACTED]",
            Entity::Phone => "[PHONE_REDACTED]",
            Entity::UsSsn => "[SSN_REDACTED]",
            Entity::CreditCard => "[CREDIT_CARD_REDACTED]",
            Entity::Iban => "[IBAN_REDACTED]",
            Entity::IpAddress => "[IP_ADDRESS_REDACTED]",
            Entity::MacAddress => "[MAC_ADDRESS_REDACTED]",
            Entity::ApiKey => "[API_KEY_REDACTED]",
        }
    }
}
