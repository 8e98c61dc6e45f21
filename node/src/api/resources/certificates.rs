//! `CertificateService`: certificates for HTTPS listeners; keys checked and
//! sealed before they are proposed.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{certificate, sealed};
use tonic::{Request, Response, Status};
use v1::command::Kind;

use crate::api::{Api, refused};

#[tonic::async_trait]
impl v1::certificate_service_server::CertificateService for Api {
    async fn upload_certificate(
        &self,
        mut request: Request<v1::UploadCertificateRequest>,
    ) -> Result<Response<v1::UploadCertificateResponse>, Status> {
        // The key is checked in the clear, then sealed: only the sealed
        // text enters the log (and so the state, snapshots and peers).
        let upload = request.get_mut();
        certificate::check_clear_key(&upload.private_key).map_err(refused)?;
        key_matches_leaf(&upload.certificate_chain, &upload.private_key)?;
        upload.private_key = self
            .data_keys
            .current()
            .seal(
                &upload.private_key,
                &sealed::certificate_key_aad(&upload.certificate_chain),
            )
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let (certificate, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::UploadCertificate)
            .await?;
        Ok(Response::new(v1::UploadCertificateResponse {
            certificate,
            revision,
        }))
    }

    async fn get_certificate(
        &self,
        request: Request<v1::GetCertificateRequest>,
    ) -> Result<Response<v1::GetCertificateResponse>, Status> {
        let (certificate, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetCertificateResponse {
            certificate: Some(certificate),
            revision,
        }))
    }

    async fn list_certificates(
        &self,
        request: Request<v1::ListCertificatesRequest>,
    ) -> Result<Response<v1::ListCertificatesResponse>, Status> {
        let (certificates, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListCertificatesResponse {
            certificates,
            next_page_token,
            revision,
        }))
    }

    async fn delete_certificate(
        &self,
        request: Request<v1::DeleteCertificateRequest>,
    ) -> Result<Response<v1::DeleteCertificateResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteCertificate)
            .await?;
        Ok(Response::new(v1::DeleteCertificateResponse {
            revision: receipt.revision,
        }))
    }
}

/// Refuses a key that is not the first certificate's: after sealing, only a
/// data plane could tell, by failing to serve the listener.
fn key_matches_leaf(chain_pem: &str, key_pem: &str) -> Result<(), Status> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let Ok(chain) =
        CertificateDer::pem_slice_iter(chain_pem.as_bytes()).collect::<Result<Vec<_>, _>>()
    else {
        // The domain names what is wrong with the chain.
        return Ok(());
    };
    if chain.is_empty() {
        return Ok(());
    }
    let Ok(key) = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) else {
        return Err(Status::invalid_argument(
            "private_key: is not a PEM private key (PKCS#8, PKCS#1 or SEC1)",
        ));
    };
    rustls::sign::CertifiedKey::from_der(chain, key, &rustls::crypto::aws_lc_rs::default_provider())
        .map(drop)
        .map_err(|error| {
            Status::invalid_argument(format!(
                "private_key: is not the key of the first certificate of certificate_chain ({error})"
            ))
        })
}
