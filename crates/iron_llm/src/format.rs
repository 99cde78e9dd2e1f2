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

    /// Whether `path` is an endpoint the provider bills that iron-cage cannot
    /// price (legacy completions, images, audio, batches, fine-tuning, video,
    /// realtime): under a hard budget such requests are refused, not sent unmetered.
    #[must_use]
    pub fn is_unpriced_billable(path: &str) -> bool {
        let p = path
            .strip_prefix("/v1")
            .unwrap_or(path)
            .trim_end_matches('/');
        let first = p.trim_start_matches('/').split('/').next().unwrap_or("");
        matches!(
            first,
            "completions" | "images" | "audio" | "batches" | "fine_tuning" | "videos" | "realtime"
        ) || p.starts_with("/messages/batches")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpriced_endpoints_are_known() {
        for p in [
            "/v1/images/generations",
            "/v1/audio/speech",
            "/v1/audio/transcriptions",
            "/v1/completions",
            "/v1/batches",
            "/v1/messages/batches",
            "/fine_tuning/jobs",
        ] {
            assert!(ApiFormat::is_unpriced_billable(p), "{p}");
            assert!(ApiFormat::from_path(p).is_none(), "{p}");
        }
        for p in [
            "/v1/chat/completions",
            "/v1/models",
            "/v1/files",
            "/v1/messages",
        ] {
            assert!(!ApiFormat::is_unpriced_billable(p), "{p}");
        }
    }
}
