//! The endpoints iron-cage understands.

use iron_cost::Provider;

/// A provider API endpoint family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFormat {
    /// OpenAI `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /v1/responses`.
    Responses,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
}

impl ApiFormat {
    /// The format served at `path` (with or without the `/v1` prefix).
    #[must_use]
    pub fn from_path(path: &str) -> Option<Self> {
        let p = path.strip_prefix("/v1").unwrap_or(path);
        match p.trim_end_matches('/') {
            "/chat/completions" => Some(ApiFormat::ChatCompletions),
            "/responses" => Some(ApiFormat::Responses),
            "/messages" => Some(ApiFormat::Messages),
            "/embeddings" => Some(ApiFormat::Embeddings),
            _ => None,
        }
    }

    /// The path below the API base (`/chat/completions`, …).
    #[must_use]
    pub fn path(self) -> &'static str {
        match self {
            ApiFormat::ChatCompletions => "/chat/completions",
            ApiFormat::Responses => "/responses",
            ApiFormat::Messages => "/messages",
            ApiFormat::Embeddings => "/embeddings",
        }
    }

    /// Whose wire format it is.
    #[must_use]
    pub fn provider(self) -> Provider {
        match self {
            ApiFormat::Messages => Provider::Anthropic,
            _ => Provider::OpenAi,
        }
    }

    /// Short name used in events and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ApiFormat::ChatCompletions => "chat.completions",
            ApiFormat::Responses => "responses",
            ApiFormat::Messages => "messages",
            ApiFormat::Embeddings => "embeddings",
        }
    }
}
