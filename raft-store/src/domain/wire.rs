//! Domain → wire: the API's view of resources and events. Statuses are left
//! unspecified here; the node fills them from the data plane that owns the EIP.
//! A certificate's private key and an access token's secret hash never cross
//! this boundary.

use fulcrum_api::v1;

use super::catalog::Catalog;
use super::event::{Event, RecordedEvent};
use super::model::{
    AccessToken, Algorithm, Certificate, ConnectionLimit, Eip, ForwardingRule, Group, HealthCheck,
    HealthCheckKind, HostCondition, Instance, Listener, LoadBalancer, Member, Network,
    PathCondition, Persistence, Protocol, ProxyProtocol, Quotas, Role, RuleAction, Settings,
    StatusCodeRange, Subnet,
};

fn expected_codes_text(ranges: &[StatusCodeRange]) -> String {
    ranges
        .iter()
        .map(|range| {
            if range.first == range.last {
                range.first.to_string()
            } else {
                format!("{}-{}", range.first, range.last)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl From<Protocol> for v1::Protocol {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Tcp => v1::Protocol::Tcp,
            Protocol::Http => v1::Protocol::Http,
            Protocol::Https => v1::Protocol::Https,
        }
    }
}

impl From<Algorithm> for v1::Algorithm {
    fn from(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::WeightedRoundRobin => v1::Algorithm::WeightedRoundRobin,
            Algorithm::WeightedLeastConnections => v1::Algorithm::WeightedLeastConnections,
            Algorithm::SourceIpHash => v1::Algorithm::SourceIpHash,
        }
    }
}

impl From<&HealthCheck> for v1::HealthCheck {
    fn from(check: &HealthCheck) -> Self {
        let http = check.kind == HealthCheckKind::Http;
        v1::HealthCheck {
            r#type: match check.kind {
                HealthCheckKind::Tcp => v1::HealthCheckType::Tcp,
                HealthCheckKind::Http => v1::HealthCheckType::Http,
            } as i32,
            interval_s: Some(check.interval_s),
            timeout_s: Some(check.timeout_s),
            healthy_threshold: Some(check.healthy_threshold),
            unhealthy_threshold: Some(check.unhealthy_threshold),
            http_path: http.then(|| check.http_path.clone()),
            expected_codes: http.then(|| expected_codes_text(&check.expected_codes)),
        }
    }
}

impl From<&Network> for v1::Network {
    fn from(network: &Network) -> Self {
        let meta = &network.meta;
        v1::Network {
            id: network.id.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            tags: meta.tags.clone(),
            created_at_unix_ms: meta.created_at_ms,
            updated_at_unix_ms: meta.updated_at_ms,
            revision: meta.revision,
            cidr: network.cidr.to_string(),
        }
    }
}

impl From<&Subnet> for v1::Subnet {
    fn from(subnet: &Subnet) -> Self {
        let meta = &subnet.meta;
        v1::Subnet {
            id: subnet.id.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            tags: meta.tags.clone(),
            created_at_unix_ms: meta.created_at_ms,
            updated_at_unix_ms: meta.updated_at_ms,
            revision: meta.revision,
            network_id: subnet.network_id.to_string(),
            cidr: subnet.cidr.to_string(),
        }
    }
}

impl From<&Instance> for v1::Instance {
    fn from(instance: &Instance) -> Self {
        let meta = &instance.meta;
        v1::Instance {
            id: instance.id.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            tags: meta.tags.clone(),
            created_at_unix_ms: meta.created_at_ms,
            updated_at_unix_ms: meta.updated_at_ms,
            revision: meta.revision,
            subnet_id: instance.subnet_id.to_string(),
            address: instance.address.to_string(),
        }
    }
}

impl From<&Eip> for v1::Eip {
    fn from(eip: &Eip) -> Self {
        let meta = &eip.meta;
        v1::Eip {
            id: eip.id.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            tags: meta.tags.clone(),
            created_at_unix_ms: meta.created_at_ms,
            updated_at_unix_ms: meta.updated_at_ms,
            revision: meta.revision,
            address: eip.address.to_string(),
            load_balancer_id: eip
                .load_balancer_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }
}

/// The API view of a Load Balancer; the catalog supplies its EIP's address.
pub fn load_balancer_view(catalog: &Catalog, lb: &LoadBalancer) -> v1::LoadBalancer {
    let mut view = v1::LoadBalancer::from(lb);
    if let Some(eip) = catalog.eip_of(lb) {
        view.eip_address = eip.address.to_string();
    }
    view
}

impl From<&LoadBalancer> for v1::LoadBalancer {
    fn from(lb: &LoadBalancer) -> Self {
        let meta = &lb.meta;
        v1::LoadBalancer {
            id: lb.id.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            tags: meta.tags.clone(),
            created_at_unix_ms: meta.created_at_ms,
            updated_at_unix_ms: meta.updated_at_ms,
            revision: meta.revision,
            network_id: lb.network_id.to_string(),
            subnet_id: lb.subnet_id.to_string(),
            eip_id: lb
                .eip_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            eip_address: String::new(),
            admin_state_up: lb.admin_state_up,
            delete_protection: lb.delete_protection,
            provisioning_status: v1::ProvisioningStatus::Unspecified as i32,
            operating_status: v1::OperatingStatus::Unspecified as i32,
        }
    }
}

impl From<&Listener> for v1::Listener {
    fn from(listener: &Listener) -> Self {
        let meta = &listener.meta;
        v1::Listener {
            id: listener.id.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            tags: meta.tags.clone(),
            created_at_unix_ms: meta.created_at_ms,
            updated_at_unix_ms: meta.updated_at_ms,
            revision: meta.revision,
            load_balancer_id: listener.load_balancer_id.to_string(),
            protocol: v1::Protocol::from(listener.protocol) as i32,
            port: u32::from(listener.port),
            connection_limit: match listener.connection_limit {
                ConnectionLimit::Unlimited => -1,
                ConnectionLimit::AtMost(limit) => i64::from(limit),
            },
            default_group_id: listener
                .default_group_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            certificate_id: listener
                .certificate_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            idle_timeout_s: listener.idle_timeout_s,
            insert_x_forwarded_for: listener.insert_x_forwarded_for,
            admin_state_up: listener.admin_state_up,
            provisioning_status: v1::ProvisioningStatus::Unspecified as i32,
            operating_status: v1::OperatingStatus::Unspecified as i32,
            // Statuses describe a node's data plane; the node fills them in.
            provisioning_error: String::new(),
            access_log: listener.access_log,
            rules: listener
                .rules
                .iter()
                .map(v1::ForwardingRule::from)
                .collect(),
        }
    }
}

impl From<&ForwardingRule> for v1::ForwardingRule {
    fn from(rule: &ForwardingRule) -> Self {
        use v1::forwarding_rule::Action;
        let (path, path_match) = match &rule.path {
            None => (String::new(), v1::PathMatch::Unspecified),
            Some(PathCondition::Prefix(path)) => (path.clone(), v1::PathMatch::Prefix),
            Some(PathCondition::Exact(path)) => (path.clone(), v1::PathMatch::Exact),
        };
        v1::ForwardingRule {
            name: rule.name.clone(),
            host: match &rule.host {
                None => String::new(),
                Some(HostCondition::Exact(name)) => name.clone(),
                Some(HostCondition::Wildcard(name)) => format!("*.{name}"),
            },
            path,
            path_match: path_match as i32,
            header: rule.header.as_ref().map(|header| v1::HeaderCondition {
                name: header.name.clone(),
                value: header.value.clone(),
            }),
            action: Some(match &rule.action {
                RuleAction::Forward(group) => Action::ForwardGroupId(group.to_string()),
                RuleAction::Redirect(redirect) => Action::Redirect(v1::RedirectAction {
                    status: u32::from(redirect.status),
                    scheme: match redirect.https {
                        None => String::new(),
                        Some(false) => "http".to_owned(),
                        Some(true) => "https".to_owned(),
                    },
                    host: redirect.host.clone().unwrap_or_default(),
                    port: redirect.port.map_or(0, u32::from),
                    path: redirect.path.clone().unwrap_or_default(),
                }),
                RuleAction::FixedResponse(fixed) => {
                    Action::FixedResponse(v1::FixedResponseAction {
                        status: u32::from(fixed.status),
                        content_type: fixed.content_type.clone(),
                        body: fixed.body.clone(),
                    })
                }
            }),
        }
    }
}

/// The API view of a member; the catalog supplies its instance's address.
pub fn member_view(catalog: &Catalog, member: &Member) -> v1::Member {
    v1::Member {
        id: member.id.to_string(),
        instance_id: member.instance_id.to_string(),
        address: catalog
            .instances()
            .get(&member.instance_id)
            .map(|instance| instance.address.to_string())
            .unwrap_or_default(),
        port: u32::from(member.port),
        weight: u32::from(member.weight),
        admin_state_up: member.admin_state_up,
        provisioning_status: v1::ProvisioningStatus::Unspecified as i32,
        operating_status: v1::OperatingStatus::Unspecified as i32,
    }
}

/// The API view of a group, members included.
pub fn group_view(catalog: &Catalog, group: &Group) -> v1::VirtualServerGroup {
    let meta = &group.meta;
    v1::VirtualServerGroup {
        id: group.id.to_string(),
        name: meta.name.clone(),
        description: meta.description.clone(),
        tags: meta.tags.clone(),
        created_at_unix_ms: meta.created_at_ms,
        updated_at_unix_ms: meta.updated_at_ms,
        revision: meta.revision,
        load_balancer_id: group.load_balancer_id.to_string(),
        algorithm: v1::Algorithm::from(group.algorithm) as i32,
        health_check: group.health_check.as_ref().map(v1::HealthCheck::from),
        members: group
            .members
            .iter()
            .map(|member| member_view(catalog, member))
            .collect(),
        provisioning_status: v1::ProvisioningStatus::Unspecified as i32,
        operating_status: v1::OperatingStatus::Unspecified as i32,
        persistence: group
            .persistence
            .as_ref()
            .map(|persistence| match persistence {
                Persistence::Cookie(name) => v1::SessionPersistence {
                    r#type: v1::PersistenceType::Cookie as i32,
                    cookie_name: name.clone(),
                },
                Persistence::AppCookie(name) => v1::SessionPersistence {
                    r#type: v1::PersistenceType::AppCookie as i32,
                    cookie_name: name.clone(),
                },
            }),
        proxy_protocol: match group.proxy_protocol {
            None => v1::ProxyProtocolVersion::None,
            Some(ProxyProtocol::V1) => v1::ProxyProtocolVersion::V1,
            Some(ProxyProtocol::V2) => v1::ProxyProtocolVersion::V2,
        } as i32,
        passive_health: group.passive_health.map(|policy| v1::PassiveHealth {
            consecutive_failures: policy.consecutive_failures,
            ejection_s: policy.ejection_s,
            max_ejected_percent: Some(policy.max_ejected_percent),
        }),
    }
}

impl From<&Certificate> for v1::Certificate {
    fn from(certificate: &Certificate) -> Self {
        let meta = &certificate.meta;
        v1::Certificate {
            id: certificate.id.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            tags: meta.tags.clone(),
            created_at_unix_ms: meta.created_at_ms,
            updated_at_unix_ms: meta.updated_at_ms,
            revision: meta.revision,
            certificate_chain: certificate.certificate_chain_pem.clone(),
            fingerprint: certificate.fingerprint.clone(),
            not_after_unix_ms: certificate.not_after_ms,
        }
    }
}

impl From<Role> for v1::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => v1::Role::Viewer,
            Role::Operator => v1::Role::Operator,
            Role::Admin => v1::Role::Admin,
        }
    }
}

/// The API view of an access token: never its secret's hash.
impl From<&AccessToken> for v1::AccessToken {
    fn from(token: &AccessToken) -> Self {
        v1::AccessToken {
            id: token.id.to_string(),
            description: token.description.clone(),
            created_at_unix_ms: token.created_at_ms,
            revision: token.revision,
            principal: token.principal.clone(),
            role: v1::Role::from(token.role) as i32,
        }
    }
}

impl From<&Quotas> for v1::Quotas {
    fn from(quotas: &Quotas) -> Self {
        v1::Quotas {
            load_balancers: quotas.load_balancers,
            listeners_per_load_balancer: quotas.listeners_per_load_balancer,
            groups_per_load_balancer: quotas.groups_per_load_balancer,
            members_per_group: quotas.members_per_group,
            networks: Some(quotas.networks),
            subnets: Some(quotas.subnets),
            instances: Some(quotas.instances),
            eips: Some(quotas.eips),
            certificates: Some(quotas.certificates),
        }
    }
}

impl From<&Settings> for v1::ClusterSettings {
    fn from(settings: &Settings) -> Self {
        v1::ClusterSettings {
            eip_pool: settings.eip_pool.iter().map(ToString::to_string).collect(),
            quotas: Some(v1::Quotas::from(&settings.quotas)),
            client_token_retention_s: settings.client_token_retention_ms / 1000,
            client_token_capacity: settings.client_token_capacity,
            history_retention_revisions: settings.history_retention_revisions,
            revision: settings.revision,
        }
    }
}

/// The API view of a recorded event. Member and group views need the catalog
/// for instance addresses; they show what the catalog holds now.
pub fn event_view(catalog: &Catalog, recorded: &RecordedEvent) -> v1::Event {
    use v1::EventType as Type;
    use v1::event::Resource;
    let (kind, resource) = match &recorded.event {
        Event::NetworkCreated(network) => (
            Type::NetworkCreated,
            Some(Resource::Network(network.into())),
        ),
        Event::NetworkDeleted { .. } => (Type::NetworkDeleted, None),
        Event::SubnetCreated(subnet) => {
            (Type::SubnetCreated, Some(Resource::Subnet(subnet.into())))
        }
        Event::SubnetDeleted { .. } => (Type::SubnetDeleted, None),
        Event::InstanceCreated(instance) => (
            Type::InstanceCreated,
            Some(Resource::Instance(instance.into())),
        ),
        Event::InstanceDeleted { .. } => (Type::InstanceDeleted, None),
        Event::EipAllocated(eip) => (Type::EipAllocated, Some(Resource::Eip(eip.into()))),
        Event::EipReleased { .. } => (Type::EipReleased, None),
        Event::LoadBalancerCreated(lb) => (
            Type::LoadBalancerCreated,
            Some(Resource::LoadBalancer(lb.into())),
        ),
        Event::LoadBalancerUpdated(lb) => (
            Type::LoadBalancerUpdated,
            Some(Resource::LoadBalancer(lb.into())),
        ),
        Event::LoadBalancerDeleted { .. } => (Type::LoadBalancerDeleted, None),
        Event::EipAssociated { eip, .. } => (Type::EipAssociated, Some(Resource::Eip(eip.into()))),
        Event::EipDisassociated { eip, .. } => {
            (Type::EipDisassociated, Some(Resource::Eip(eip.into())))
        }
        Event::ListenerCreated(listener) => (
            Type::ListenerCreated,
            Some(Resource::Listener(listener.into())),
        ),
        Event::ListenerUpdated(listener) => (
            Type::ListenerUpdated,
            Some(Resource::Listener(listener.into())),
        ),
        Event::ListenerDeleted { .. } => (Type::ListenerDeleted, None),
        Event::GroupCreated(group) => (
            Type::VirtualServerGroupCreated,
            Some(Resource::VirtualServerGroup(group_view(catalog, group))),
        ),
        Event::GroupUpdated(group) => (
            Type::VirtualServerGroupUpdated,
            Some(Resource::VirtualServerGroup(group_view(catalog, group))),
        ),
        Event::GroupDeleted { .. } => (Type::VirtualServerGroupDeleted, None),
        Event::MemberAdded { member, .. } => (
            Type::MemberAdded,
            Some(Resource::Member(member_view(catalog, member))),
        ),
        Event::MemberUpdated { member, .. } => (
            Type::MemberUpdated,
            Some(Resource::Member(member_view(catalog, member))),
        ),
        Event::MemberRemoved { .. } => (Type::MemberRemoved, None),
        Event::CertificateUploaded(certificate) => (
            Type::CertificateUploaded,
            Some(Resource::Certificate(certificate.into())),
        ),
        Event::CertificateDeleted { .. } => (Type::CertificateDeleted, None),
        Event::CertificateKeyResealed(certificate) => (
            Type::CertificateKeyResealed,
            Some(Resource::Certificate(certificate.into())),
        ),
        Event::SettingsUpdated(settings) => (
            Type::ClusterSettingsUpdated,
            Some(Resource::ClusterSettings(settings.into())),
        ),
        Event::AccessTokenIssued(token) => (
            Type::AccessTokenIssued,
            Some(Resource::AccessToken(token.into())),
        ),
        Event::AccessTokenRevoked(token) => (
            Type::AccessTokenRevoked,
            Some(Resource::AccessToken(token.into())),
        ),
    };
    v1::Event {
        revision: recorded.revision,
        occurred_at_unix_ms: recorded.at_ms,
        r#type: kind as i32,
        resource_id: recorded.event.resource_id().to_owned(),
        parent_id: recorded.event.parent_id().to_owned(),
        principal: recorded.principal.clone(),
        resource,
    }
}
