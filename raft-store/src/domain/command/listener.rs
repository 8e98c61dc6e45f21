//! Wire to domain for listeners: creation and update, and the rules that
//! tie a listener's certificate and X-Forwarded-For to its protocol. The
//! access log fits every protocol; it exists from log format 4 on.

use fulcrum_api::v1;

use super::{CreateListener, UpdateListener, meta_update, new_meta, protocol};
use crate::domain::ids::{CertificateId, GroupId, ListenerId, LoadBalancerId};
use crate::domain::limits::Rules;
use crate::domain::model::Protocol;
use crate::domain::rejection::Rejection;
use crate::domain::validate;

/// The request's `access_log` as the entry's format reads it: a build of a
/// format before 4 dropped the field, unknown to it, so it is not there.
fn access_log(requested: Option<bool>, rules: Rules) -> Option<bool> {
    requested.filter(|_| rules.access_logs())
}

pub(super) fn create_listener(
    request: &v1::CreateListenerRequest,
    rules: Rules,
) -> Result<CreateListener, Rejection> {
    let load_balancer_id = LoadBalancerId::parse("load_balancer_id", &request.load_balancer_id)?;
    let meta = new_meta(&request.name, &request.description, &request.tags)?;
    let protocol = protocol("protocol", request.protocol)?;
    let port = validate::port("port", request.port)?;
    let connection_limit =
        validate::connection_limit("connection_limit", request.connection_limit)?;
    let certificate_id = CertificateId::parse_optional("certificate_id", &request.certificate_id)?;
    check_certificate_fits(protocol, certificate_id.as_ref())?;
    let insert_x_forwarded_for = request.insert_x_forwarded_for.unwrap_or(protocol.is_http());
    check_forwarded_for_fits(protocol, insert_x_forwarded_for)?;
    Ok(CreateListener {
        load_balancer_id,
        meta,
        protocol,
        port,
        connection_limit,
        default_group_id: GroupId::parse_optional("default_group_id", &request.default_group_id)?,
        certificate_id,
        idle_timeout_s: validate::idle_timeout_s("idle_timeout_s", request.idle_timeout_s)?,
        insert_x_forwarded_for,
        admin_state_up: request.admin_state_up.unwrap_or(true),
        access_log: access_log(request.access_log, rules).unwrap_or(false),
    })
}

/// HTTPS listeners need a certificate; TCP and HTTP listeners must not name one.
pub(crate) fn check_certificate_fits(
    protocol: Protocol,
    certificate_id: Option<&CertificateId>,
) -> Result<(), Rejection> {
    match (protocol, certificate_id) {
        (Protocol::Https, None) => Err(Rejection::invalid(
            "certificate_id",
            "is required for an HTTPS listener",
        )),
        (Protocol::Tcp | Protocol::Http, Some(_)) => Err(Rejection::invalid(
            "certificate_id",
            format!(
                "must be empty for a {} listener; only HTTPS listeners take a certificate",
                protocol.name()
            ),
        )),
        _ => Ok(()),
    }
}

/// X-Forwarded-For is an HTTP header: TCP listeners cannot insert it.
pub(crate) fn check_forwarded_for_fits(protocol: Protocol, insert: bool) -> Result<(), Rejection> {
    if insert && !protocol.is_http() {
        return Err(Rejection::invalid(
            "insert_x_forwarded_for",
            "applies only to HTTP and HTTPS listeners",
        ));
    }
    Ok(())
}

pub(super) fn update_listener(
    request: &v1::UpdateListenerRequest,
    rules: Rules,
) -> Result<UpdateListener, Rejection> {
    Ok(UpdateListener {
        id: ListenerId::parse("id", &request.id)?,
        expected_revision: request.expected_revision,
        meta: meta_update(
            request.name.as_ref(),
            request.description.as_ref(),
            request.tags.as_ref(),
        )?,
        connection_limit: request
            .connection_limit
            .map(|limit| validate::connection_limit("connection_limit", Some(limit)))
            .transpose()?,
        default_group_id: request
            .default_group_id
            .as_deref()
            .map(|raw| GroupId::parse_optional("default_group_id", raw))
            .transpose()?,
        certificate_id: request
            .certificate_id
            .as_deref()
            .map(|raw| CertificateId::parse_optional("certificate_id", raw))
            .transpose()?,
        idle_timeout_s: request
            .idle_timeout_s
            .map(|seconds| validate::idle_timeout_s("idle_timeout_s", Some(seconds)))
            .transpose()?,
        insert_x_forwarded_for: request.insert_x_forwarded_for,
        admin_state_up: request.admin_state_up,
        protocol: request
            .protocol
            .map(|raw| protocol("protocol", raw))
            .transpose()?,
        port: request.port,
        access_log: access_log(request.access_log, rules),
    })
}
