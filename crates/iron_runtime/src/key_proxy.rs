//! The key proxy: how library mode calls the provider with a key that stays in
//! Rust.
//!
//! When the Control Panel holds the provider key, library mode governs a call
//! in the agent's HTTP transport as always, then sends it here (loopback,
//! presenting a random per-process token) instead of to the provider. The
//! proxy drops whatever credentials the client carried (a placeholder),
//! signs the request with the key opened from the lease, forwards it to the
//! lease's provider base URL, and streams the reply back unchanged. The key
//! never becomes a Python object.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, HOST};
use hyper::{Request, Response};
use iron_cost::Provider;

use crate::error::PipelineError;
use crate::http::{channel, json_response, read_body, RespBody, ServerHandle};
use crate::router::{signature, upstream_client, Upstream};
use crate::sealed_key::KeySlot;

/// The header the runtime presents to its proxy.
pub const TOKEN_HEADER: &str = "x-iron-cage-proxy-token";
/// Largest request body forwarded.
const MAX_BODY: usize = 64 << 20;

struct Shared {
    base: String,
    provider: Provider,
    key: KeySlot,
    token: String,
    client: Upstream,
}

/// A running key proxy.
#[derive(Debug)]
pub struct KeyProxy {
    server: ServerHandle,
    token: String,
}

impl KeyProxy {
    /// Starts a proxy to `base` (the provider's base URL, `/v1` included) that
    /// signs with `key` as `provider` expects.
    ///
    /// # Errors
    /// No loopback port, no random token, or no TLS roots.
    pub fn start(base: &str, provider: Provider, key: KeySlot) -> std::io::Result<Self> {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).map_err(|e| std::io::Error::other(e.to_string()))?;
        let token = raw.iter().fold(String::from("ic-proxy-"), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
        let shared = Arc::new(Shared {
            base: base.trim_end_matches('/').to_owned(),
            provider,
            key,
            token: token.clone(),
            client: upstream_client(Duration::from_secs(10)),
        });
        let server = ServerHandle::start("127.0.0.1", 0, 1, move |req| {
            handle(Arc::clone(&shared), req)
        })?;
        Ok(KeyProxy { server, token })
    }

    /// `http://127.0.0.1:<port>`: requests keep their path (`/v1/chat/completions`).
    #[must_use]
    pub fn origin(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The token to present in [`TOKEN_HEADER`].
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stops serving.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

fn refuse(status: u16, err: &PipelineError) -> Response<RespBody> {
    json_response(status, &err.body(None))
}

/// The upstream URL of a request path: the base's `/v1` is not repeated.
fn upstream_url(base: &str, path_and_query: &str) -> String {
    let rest = if base.ends_with("/v1") {
        path_and_query
            .strip_prefix("/v1")
            .filter(|r| r.is_empty() || r.starts_with(['/', '?']))
            .unwrap_or(path_and_query)
    } else {
        path_and_query
    };
    format!("{base}{rest}")
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<RespBody> {
    let presented = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = presented.len() == shared.token.len()
        && presented
            .bytes()
            .zip(shared.token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !ok {
        return refuse(
            401,
            &PipelineError::Unauthorized(
                "this is iron-cage's key proxy for one runtime; it serves only that runtime".into(),
            ),
        );
    }
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str);
    let url = upstream_url(&shared.base, path);
    let body = match read_body(body, MAX_BODY).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return refuse(
                413,
                &PipelineError::TooLarge(format!("request body over {MAX_BODY} bytes")),
            )
        }
        Err(e) => {
            return refuse(
                400,
                &PipelineError::BadRequest(format!("could not read the request body: {e}")),
            )
        }
    };
    let mut builder = Request::builder().method(parts.method).uri(&url);
    for (name, value) in &parts.headers {
        // The client's own credentials (a placeholder) and hop-by-hop headers stay here.
        let drop = name == AUTHORIZATION
            || name == "x-api-key"
            || name == HOST
            || name == CONNECTION
            || name == CONTENT_LENGTH
            || name == TOKEN_HEADER;
        if !drop {
            builder = builder.header(name, value);
        }
    }
    if let Some((name, value)) = signature(shared.provider, &shared.key) {
        builder = builder.header(name, value);
    }
    let upstream_req = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                400,
                &PipelineError::BadRequest(format!("cannot build the request to {url}: {e}")),
            )
        }
    };
    let resp = match shared.client.request(upstream_req).await {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                502,
                &PipelineError::Upstream(format!(
                    "the provider at {url} could not be reached: {e}"
                )),
            )
        }
    };
    let (parts, mut upstream_body) = resp.into_parts();
    let (tx, out) = channel();
    tokio::spawn(async move {
        while let Some(frame) = upstream_body.frame().await {
            match frame {
                Ok(f) => {
                    if let Ok(data) = f.into_data() {
                        if tx.send(Ok(data)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(std::io::Error::other(format!(
                            "upstream broke off: {e}"
                        ))))
                        .await;
                    return;
                }
            }
        }
    });
    let mut r = Response::new(out);
    *r.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if name != CONTENT_LENGTH && name != CONNECTION && name != "transfer-encoding" {
            r.headers_mut().append(name, value.clone());
        }
    }
    r.headers_mut()
        .insert("x-iron-cage-proxied", HeaderValue::from_static("1"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_onto_the_base_without_repeating_v1() {
        let b = "https://api.openai.com/v1";
        assert_eq!(
            upstream_url(b, "/v1/chat/completions"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            upstream_url(b, "/v1/models?limit=2"),
            "https://api.openai.com/v1/models?limit=2"
        );
        assert_eq!(
            upstream_url(b, "/v1beta/x"),
            "https://api.openai.com/v1/v1beta/x"
        );
        assert_eq!(
            upstream_url("http://h:1", "/v1/messages"),
            "http://h:1/v1/messages"
        );
    }
}
