//! The rules for certificates: the quota on uploads, the listeners that a
//! deletion takes with it, and keys sealed anew.

use super::{Context, current, listeners_using};
use crate::domain::catalog::Catalog;
use crate::domain::command::{DeleteTarget, UploadCertificate};
use crate::domain::event::Event;
use crate::domain::ids::CertificateId;
use crate::domain::limits::quota;
use crate::domain::model::{Certificate, Settings};
use crate::domain::rejection::Rejection;

pub(super) fn upload_certificate(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    upload: &UploadCertificate,
) -> Result<Vec<Event>, Rejection> {
    context.within_new_quota(
        catalog.certificates.len(),
        settings.quotas.certificates,
        &quota::CERTIFICATES,
    )?;
    Ok(vec![Event::CertificateUploaded(Certificate {
        id: CertificateId::derive(context.seed()?),
        meta: context.meta(&upload.meta),
        certificate_chain_pem: upload.certificate_chain_pem.clone(),
        private_key_pem: upload.private_key_pem.clone(),
        fingerprint: upload.fingerprint.clone(),
        not_after_ms: upload.not_after_ms,
    })])
}

pub(super) fn delete_certificate(
    catalog: &Catalog,
    target: &DeleteTarget<CertificateId>,
) -> Result<Vec<Event>, Rejection> {
    let certificate = current(
        catalog.certificate("id", &target.id),
        target.expected_revision,
    )?;
    let users = listeners_using(
        catalog.listeners_using_certificate(&certificate.id),
        target.cascade,
        |users| {
            format!(
                "certificate {} is used by listeners [{users}]; give them another certificate first, or ask for cascade (which deletes them)",
                certificate.id
            )
        },
    )?;
    let mut events: Vec<Event> = users
        .into_iter()
        .map(|listener| Event::ListenerDeleted {
            id: listener.id.clone(),
            load_balancer_id: listener.load_balancer_id.clone(),
        })
        .collect();
    events.push(Event::CertificateDeleted {
        id: certificate.id.clone(),
    });
    Ok(events)
}

/// Each certificate that still exists gets its key's new sealed text; one
/// deleted since the node read it is passed over (its key is gone anyway).
/// When none is left, there is nothing to apply.
pub(super) fn reseal_certificate_keys(
    catalog: &Catalog,
    keys: &[(CertificateId, String)],
) -> Result<Vec<Event>, Rejection> {
    let events: Vec<Event> = keys
        .iter()
        .filter_map(|(id, sealed)| {
            let certificate = catalog.certificates.get(id)?;
            Some(Event::CertificateKeyResealed(Certificate {
                private_key_pem: sealed.clone(),
                ..certificate.clone()
            }))
        })
        .collect();
    if events.is_empty() {
        return Err(Rejection::precondition(
            Some("keys"),
            "none of the certificates exists any more",
        ));
    }
    Ok(events)
}
