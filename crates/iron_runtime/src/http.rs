//! The HTTP plumbing shared by the router and the fake provider: a server on
//! its own tokio runtime, response bodies (whole or streamed through a channel).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// A response body.
pub type RespBody = BoxBody<Bytes, io::Error>;

/// A whole body.
#[must_use]
pub fn full(bytes: impl Into<Bytes>) -> RespBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// A JSON response.
#[must_use]
pub fn json_response(status: u16, value: &serde_json::Value) -> Response<RespBody> {
    let mut r = Response::new(full(value.to_string()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// A body fed from a channel: send `Ok(bytes)` chunks, `Err` to break the
/// connection (the client sees the stream cut off), drop the sender to end it.
#[derive(Debug)]
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A streamed body and its sender.
#[must_use]
pub fn channel() -> (mpsc::Sender<Result<Bytes, io::Error>>, RespBody) {
    let (tx, rx) = mpsc::channel(64);
    (tx, BodyExt::boxed(ChannelBody { rx }))
}

/// Reads a request body up to `limit` bytes; `None` if it is larger.
///
/// # Errors
/// The connection failed while reading.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Option<Bytes>, hyper::Error> {
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if buf.len() + data.len() > limit {
                return Ok(None);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Some(buf.freeze()))
}

/// A server running on its own tokio runtime in background threads.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ServerHandle {
    /// Binds `host:port` (0: any free port) and serves `handler` until stopped.
    ///
    /// # Errors
    /// The runtime cannot start or the address cannot be bound.
    pub fn start<H, F>(host: &str, port: u16, threads: usize, handler: H) -> io::Result<Self>
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<RespBody>> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("iron-cage-http")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind((host, port)))?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = watch::channel(false);
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| {
                                let h = handler.clone();
                                async move { Ok::<_, Infallible>(h(req).await) }
                            });
                            // A client that goes away mid-request is not our error.
                            let _ = http1::Builder::new()
                                .keep_alive(true)
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                    _ = stop.changed() => break,
                }
            }
        });
        Ok(ServerHandle {
            addr,
            shutdown,
            runtime: Some(runtime),
        })
    }

    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/v1`: the base URL clients use.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The runtime (to spawn client work on it).
    ///
    /// # Panics
    /// Never while the server runs (the runtime is only taken by `stop`).
    #[must_use]
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .map(|r| r.handle().clone())
            .unwrap_or_else(|| panic!("the server was stopped"))
    }

    /// Whether it is serving.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.runtime.is_some()
    }

    /// Stops accepting, ends open connections and the runtime's threads.
    pub fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
