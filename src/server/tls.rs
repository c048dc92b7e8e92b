//! HTTPS for a node that faces the network itself (`--tls-cert`, `--tls-key`). Behind a reverse
//! proxy that terminates TLS none of this runs: the node serves plain HTTP as before.
//!
//! OpenSSL, which the server links already, does the TLS; axum serves whatever the listener below
//! hands it, so routing, connection info and graceful shutdown are the same as over plain TCP.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use openssl::pkey::PKey;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVersion};
use openssl::x509::X509;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_openssl::SslStream;

/// How long a client may take over its handshake before the connection is dropped (a client that
/// never finishes must not hold a socket forever).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; past it the node stops accepting until one finishes, so a
/// flood of half-open connections costs a bounded amount of memory.
const CONCURRENT_HANDSHAKES: usize = 1024;

/// The TLS settings of a node: Mozilla's "intermediate" profile (TLS 1.2 and 1.3, forward-secret
/// AEAD ciphers), never below TLS 1.2, with the certificate chain and key read from PEM files.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<SslAcceptor> {
    let chain_pem = std::fs::read(cert).with_context(|| format!("reading --tls-cert {}", cert.display()))?;
    let key_pem = std::fs::read(key).with_context(|| format!("reading --tls-key {}", key.display()))?;
    let chain = X509::stack_from_pem(&chain_pem)
        .with_context(|| format!("--tls-cert {}: not a PEM certificate", cert.display()))?;
    let mut chain = chain.into_iter();
    let leaf =
        chain.next().with_context(|| format!("--tls-cert {}: no PEM certificate in the file", cert.display()))?;
    let private_key = PKey::private_key_from_pem(&key_pem).with_context(|| {
        format!("--tls-key {}: not a PEM private key (or one protected by a passphrase)", key.display())
    })?;
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).context("setting up TLS")?;
    builder.set_min_proto_version(Some(SslVersion::TLS1_2)).context("setting the lowest TLS version")?;
    builder.set_certificate(&leaf).context("using the certificate")?;
    for intermediate in chain {
        builder.add_extra_chain_cert(intermediate).context("using the certificate chain")?;
    }
    // Compared first, so a mismatch is told as such rather than as OpenSSL's error code.
    if !leaf.public_key().is_ok_and(|public| public.public_eq(&private_key)) {
        anyhow::bail!("--tls-key {} is not the key of the certificate in --tls-cert {}", key.display(), cert.display());
    }
    builder.set_private_key(&private_key).context("using the private key")?;
    builder.check_private_key().context("checking the private key against the certificate")?;
    Ok(builder.build())
}

/// Accepts TCP connections and completes their TLS handshakes off the accept loop (one slow
/// client must not hold up the others), handing axum only finished TLS streams.
pub struct TlsListener {
    ready: mpsc::Receiver<(SslStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    _accepting: AbortOnDrop,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: SslAcceptor) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        let accepting = AbortOnDrop(tokio::spawn(accept_loop(tcp, Arc::new(acceptor), sender)));
        Ok(TlsListener { ready, local, _accepting: accepting })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = SslStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended (it only does when aborted): no more connections.
            None => {
                tracing::error!("the TLS accept loop stopped");
                std::future::pending().await
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Stops the accept loop when axum drops the listener (at graceful shutdown), which closes the
/// listening socket as axum's own listener would.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: Arc<SslAcceptor>,
    ready: mpsc::Sender<(SslStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(CONCURRENT_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // As axum's own listener does: a failed accept (out of file descriptors, say) is
                // logged and retried after a pause rather than ending the server.
                tracing::error!(error = %e, "accept error");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, stream)).await {
                Ok(Ok(tls)) => {
                    // Fails only when the server is shutting down; the connection is dropped then.
                    ready.send((tls, peer)).await.ok();
                }
                // Old protocol versions, port scanners, plain HTTP sent to the HTTPS port: the
                // client's problem, worth a line at debug level only.
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

async fn handshake(acceptor: &SslAcceptor, stream: TcpStream) -> anyhow::Result<SslStream<TcpStream>> {
    // Responses are written as they are produced; Nagle's delay would hold back the last segment.
    stream.set_nodelay(true).ok();
    let ssl = Ssl::new(acceptor.context())?;
    let mut tls = SslStream::new(ssl, stream)?;
    Pin::new(&mut tls).accept().await?;
    Ok(tls)
}

/// Adds `Strict-Transport-Security` to every response (a browser that saw it once refuses plain
/// HTTP to this host for `max_age` seconds); none when `max_age` is 0.
pub fn with_hsts(app: axum::Router, max_age: u64) -> axum::Router {
    if max_age == 0 {
        return app;
    }
    // Digits after ASCII text: always a valid header value.
    let Ok(value) = HeaderValue::try_from(format!("max-age={max_age}")) else { return app };
    app.layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(STRICT_TRANSPORT_SECURITY, value))
}
