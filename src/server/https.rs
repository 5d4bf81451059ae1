//! Putting the built-in HTTPS together from the configuration: the TLS side of the main
//! listener with its certificate source (files watched for changes, or ACME), and the
//! optional plain-HTTP redirect listener. Nothing here when parlor serves plain HTTP (behind
//! a TLS proxy, or on localhost).

use super::StartError;
use super::acme::{AcmeManager, Http01Challenges};
use super::tls::{Tls, files};
use crate::config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The running parts of the built-in HTTPS.
pub struct Https {
    pub tls: Arc<Tls>,
    /// Where plain HTTP is redirected from (and HTTP-01 answered), if configured.
    pub redirect: Option<(TcpListener, axum::Router)>,
    /// The certificate watcher or the ACME task; aborted when the server stops.
    pub upkeep: JoinHandle<()>,
}

impl Https {
    /// Loads the certificate files (a bad file stops the start) or starts ACME, and binds the
    /// redirect listener; `None` when HTTPS is not configured.
    pub async fn start(config: &Config) -> Result<Option<Https>, StartError> {
        if !config.serves_tls() {
            return Ok(None);
        }
        let tls = Arc::new(Tls::new());
        let http01 = Arc::new(Http01Challenges::default());
        let t = &config.http.tls;
        let upkeep = if t.from_files() {
            let key = files::load(&t.cert_path, &t.key_path).map_err(StartError::Tls)?;
            tls.certs.set(Arc::new(key));
            tokio::spawn(files::watch(
                t.cert_path.clone(),
                t.key_path.clone(),
                tls.certs.clone(),
            ))
        } else {
            let acme = AcmeManager::new(
                &config.http.acme,
                &config.data_dir,
                tls.clone(),
                http01.clone(),
            )
            .map_err(StartError::Acme)?;
            tokio::spawn(acme.run())
        };
        let redirect = if t.redirect_addr.is_empty() {
            None
        } else {
            let addr: SocketAddr = t
                .redirect_addr
                .parse()
                .expect("validated by Config::validate");
            let listener = super::bind(addr).await?;
            Some((
                listener,
                super::redirect::router(&config.http.public_url, http01),
            ))
        };
        Ok(Some(Https {
            tls,
            redirect,
            upkeep,
        }))
    }
}
