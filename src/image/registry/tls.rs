//! TLS for https registries: rustls with the ring provider (pure Rust and assembly, builds
//! for the static musl target without a C toolchain beyond musl-gcc) and Mozilla's root
//! certificates compiled in (webpki-roots), so the daemon needs no CA bundle on the host.

use std::net::TcpStream;
use std::sync::{Arc, OnceLock};

use super::http::Stream;

fn config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            // ring's provider lacks the post-quantum key exchange (hence the deprecation);
            // aws-lc-rs has it but needs cmake and a C build for musl.
            #[allow(deprecated)]
            let provider = rustls::crypto::ring::default_provider();
            rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| format!("TLS setup: {e}"))
        })
        .clone()
}

/// Wraps a connected socket in a TLS client session for `host` (handshake on first use).
pub(crate) fn wrap(sock: TcpStream, host: &str) -> Result<Box<dyn Stream>, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
    let conn = rustls::ClientConnection::new(config()?, name)
        .map_err(|e| format!("TLS to {host}: {e}"))?;
    let mut stream = rustls::StreamOwned::new(conn, sock);
    // Handshake now, so that a certificate problem reads as "unreachable", not as a broken
    // answer.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| format!("TLS handshake with {host}: {e}"))?;
    }
    Ok(Box::new(stream))
}
