//! A TLS certificate for HTTPS listeners (its private key is never shown).

use fulcrum_raft_store::domain::{Certificate, CertificateId};

use super::Column;

describe! {
    v1::Certificate {
        field: "certificate",
        id: CertificateId,
        stored: Certificate,
        catalog: certificates,
        client: certificates,
        list: list_certificates(ListCertificatesRequest) -> certificates,
        get: get_certificate(GetCertificateRequest) -> certificate,
        in_scope: |_, _| true,
        view: |_, stored| stored.into(),
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| r.name.clone()),
            Column::listed("FINGERPRINT", |r| r.fingerprint.clone()),
            Column::shown("NOT AFTER (UNIX MS)", |r| r.not_after_unix_ms.to_string()),
            Column::shown("REVISION", |r| r.revision.to_string()),
        ],
    }
}
