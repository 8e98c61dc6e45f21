//! Every hard limit at its value (accepted) and one past it (refused, naming
//! the field), and the format-1 entries that must still apply as before.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::RejectionKind;
use fulcrum_raft_store::domain::limits::{self, MAX_EIP_POOL_BLOCKS, MAX_MEMBERS_PER_GROUP, quota};
use v1::command::Kind;

use crate::harness::*;

/// Quotas at their ceilings (as far as they go), with `change` applied.
fn quotas_with(change: impl FnOnce(&mut v1::Quotas)) -> Kind {
    let mut quotas = v1::Quotas {
        load_balancers: quota::LOAD_BALANCERS.ceiling,
        listeners_per_load_balancer: quota::LISTENERS_PER_LOAD_BALANCER.ceiling,
        groups_per_load_balancer: quota::GROUPS_PER_LOAD_BALANCER.ceiling,
        members_per_group: quota::MEMBERS_PER_GROUP.ceiling,
        networks: Some(quota::NETWORKS.ceiling),
        subnets: Some(quota::SUBNETS.ceiling),
        instances: Some(quota::INSTANCES.ceiling),
        eips: Some(quota::EIPS.ceiling),
        certificates: Some(quota::CERTIFICATES.ceiling),
    };
    change(&mut quotas);
    Kind::UpdateClusterSettings(v1::UpdateClusterSettingsRequest {
        quotas: Some(quotas),
        ..Default::default()
    })
}

#[test]
fn every_quota_takes_its_ceiling_and_refuses_one_more() {
    let mut log = Log::new();
    log.ok(quotas_with(|_| {}));
    for limit in quota::ALL {
        let over = limit.ceiling + 1;
        let rejection = log.refused(quotas_with(|quotas| match limit.field {
            "load_balancers" => quotas.load_balancers = over,
            "listeners_per_load_balancer" => quotas.listeners_per_load_balancer = over,
            "groups_per_load_balancer" => quotas.groups_per_load_balancer = over,
            "members_per_group" => quotas.members_per_group = over,
            "networks" => quotas.networks = Some(over),
            "subnets" => quotas.subnets = Some(over),
            "instances" => quotas.instances = Some(over),
            "eips" => quotas.eips = Some(over),
            "certificates" => quotas.certificates = Some(over),
            other => panic!("no test for quota {other}"),
        }));
        assert_rejection(
            &rejection,
            RejectionKind::InvalidArgument,
            &format!("quotas.{}", limit.field),
        );
        assert!(
            rejection.message.contains(&limit.ceiling.to_string()),
            "{rejection:?} names the ceiling"
        );
    }
}

#[test]
fn absent_new_quotas_keep_their_values() {
    let mut log = Log::new();
    log.ok(quotas_with(|quotas| quotas.instances = Some(7)));
    log.ok(quotas_with(|quotas| quotas.instances = None));
    assert_eq!(log.state.settings().quotas.instances, 7);
}

/// A network, a subnet of 127.0.0.0/16 sized for many instances, a Load
/// Balancer, and `count` instances; answers (lb, instance ids).
fn catalog_with_instances(log: &mut Log, count: usize) -> (String, Vec<String>) {
    let net = log.ok(network("net", "10.0.0.0/8")).resource_id;
    let sub = log.ok(subnet("sub", &net, "10.0.0.0/16")).resource_id;
    let lb = log.ok(load_balancer("lb", &net, &sub)).resource_id;
    let instances = (0..count)
        .map(|n| {
            let address = format!("10.0.{}.{}", n / 250, 1 + n % 250);
            log.ok(instance(&format!("i{n}"), &sub, &address))
                .resource_id
        })
        .collect();
    (lb, instances)
}

fn members_of(instances: &[String], count: usize) -> Vec<v1::MemberSpec> {
    (0..count)
        .map(|n| {
            member(
                &instances[n % instances.len()],
                1 + (n / instances.len()) as u32,
                None,
            )
        })
        .collect()
}

#[test]
fn a_group_takes_the_member_ceiling_and_refuses_one_more() {
    let mut log = Log::new();
    log.ok(quotas_with(|_| {}));
    let (lb, instances) = catalog_with_instances(&mut log, 100);
    let at_limit = members_of(&instances, MAX_MEMBERS_PER_GROUP as usize);
    log.ok(Kind::CreateGroup(group(&lb, "full", at_limit)));
    let over = members_of(&instances, MAX_MEMBERS_PER_GROUP as usize + 1);
    let rejection = log.refused(Kind::CreateGroup(group(&lb, "over", over.clone())));
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "members");
    assert!(rejection.message.contains("1000"), "{rejection:?}");
    let group_id = log
        .state
        .catalog()
        .groups()
        .keys()
        .next()
        .expect("group")
        .to_string();
    let rejection = log.refused(Kind::ReplaceMembers(v1::ReplaceMembersRequest {
        group_id,
        members: over,
        ..Default::default()
    }));
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "members");
}

#[test]
fn seventy_thousand_members_are_refused_and_the_state_moves_on() {
    let mut log = Log::new();
    log.ok(quotas_with(|_| {}));
    let (lb, instances) = catalog_with_instances(&mut log, 10);
    let before = log.state.revision();
    let rejection = log.refused(Kind::CreateGroup(group(
        &lb,
        "huge",
        members_of(&instances, 70_000),
    )));
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "members");
    assert_eq!(log.state.revision(), before);
    log.ok(Kind::CreateGroup(group(
        &lb,
        "small",
        members_of(&instances, 2),
    )));
}

/// A format-1 entry that asks for more resources than ids can number (the
/// quota raised to format 1's 1,000,000) stopped every node of the build
/// that wrote it; it is now a refusal, and what follows applies.
#[test]
fn a_format_one_entry_past_the_id_space_is_refused_not_fatal() {
    let mut log = Log::new();
    let mut quotas = quotas_with(|quotas| quotas.members_per_group = limits::MAX_QUOTA_V1);
    let (lb, instances) = catalog_with_instances(&mut log, 10);
    if let Kind::UpdateClusterSettings(request) = &mut quotas {
        let quotas = request.quotas.as_mut().expect("quotas");
        quotas.networks = None;
        quotas.subnets = None;
        quotas.instances = None;
        quotas.eips = None;
        quotas.certificates = None;
    }
    let mut raise = envelope("", log.now_ms + STEP_MS, quotas);
    raise.format_version = 1;
    log.now_ms += STEP_MS;
    assert!(
        log.apply_envelope(raise).answer.is_ok(),
        "format 1 raises quotas to 1,000,000"
    );
    let mut huge = envelope(
        "",
        log.now_ms + STEP_MS,
        Kind::CreateGroup(group(&lb, "huge", members_of(&instances, 70_000))),
    );
    huge.format_version = 1;
    log.now_ms += STEP_MS;
    let applied = log.apply_envelope(huge);
    let rejection = applied.answer.expect_err("refused");
    assert_eq!(
        rejection.kind,
        RejectionKind::ResourceExhausted,
        "{rejection:?}"
    );
    assert!(rejection.message.contains("65535"), "{rejection:?}");
    log.ok(Kind::CreateGroup(group(
        &lb,
        "small",
        members_of(&instances, 2),
    )));
}

/// Format 1 had no address classes: its entries apply as they did.
#[test]
fn a_format_one_entry_keeps_format_one_rules() {
    let mut log = Log::new();
    let net = log.ok(network("net", "169.254.0.0/16")).resource_id;
    let sub = log.ok(subnet("sub", &net, "169.254.169.0/24")).resource_id;
    let metadata = instance("metadata", &sub, "169.254.169.254");
    let rejection = log.refused(metadata.clone());
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "address");
    assert!(rejection.message.contains("link-local"), "{rejection:?}");
    let mut old = envelope("", log.now_ms + STEP_MS, metadata);
    old.format_version = 1;
    log.now_ms += STEP_MS;
    assert!(log.apply_envelope(old).answer.is_ok());
}

#[test]
fn each_resource_quota_refuses_the_next_one() {
    let mut log = Log::new();
    log.ok(quotas_with(|quotas| {
        quotas.networks = Some(1);
        quotas.subnets = Some(1);
        quotas.instances = Some(1);
        quotas.eips = Some(1);
        quotas.certificates = Some(1);
    }));
    let net = log.ok(network("net", "10.0.0.0/16")).resource_id;
    let sub = log.ok(subnet("sub", &net, "10.0.1.0/24")).resource_id;
    log.ok(instance("one", &sub, "10.0.1.1"));
    log.ok(allocate_eip(""));
    log.ok(certificate("one"));
    for (kind, what) in [
        (network("net2", "10.1.0.0/16"), "networks"),
        (subnet("sub2", &net, "10.0.2.0/24"), "subnets"),
        (instance("two", &sub, "10.0.1.2"), "instances"),
        (allocate_eip(""), "eips"),
        (certificate("two"), "certificates"),
    ] {
        let rejection = log.refused(kind);
        assert_rejection(&rejection, RejectionKind::ResourceExhausted, what);
    }
}

fn pool(cidrs: Vec<String>) -> Kind {
    Kind::UpdateClusterSettings(v1::UpdateClusterSettingsRequest {
        eip_pool: Some(v1::EipPool { cidrs }),
        ..Default::default()
    })
}

#[test]
fn the_pool_takes_its_block_limit_and_refuses_one_more() {
    let mut log = Log::new();
    let blocks =
        |count: usize| -> Vec<String> { (0..count).map(|n| format!("198.51.{n}.0/24")).collect() };
    let mut at_limit = blocks(MAX_EIP_POOL_BLOCKS);
    at_limit[0] = EIP_POOL.to_owned();
    log.ok(pool(at_limit));
    let rejection = log.refused(pool(blocks(MAX_EIP_POOL_BLOCKS + 1)));
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "eip_pool.cidrs");
    assert!(rejection.message.contains("64"), "{rejection:?}");
}

#[test]
fn pool_blocks_and_member_addresses_of_forbidden_classes_are_refused() {
    let mut log = Log::new();
    for (block, rule) in [
        ("169.254.0.0/16", "link-local"),
        ("224.0.0.0/24", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("0.0.0.0/0", "unspecified"),
    ] {
        let rejection = log.refused(pool(vec![block.to_owned()]));
        assert_rejection(
            &rejection,
            RejectionKind::InvalidArgument,
            "eip_pool.cidrs[0]",
        );
        assert!(rejection.message.contains(rule), "{rejection:?}");
    }
    let net = log.ok(network("net", "224.0.0.0/8")).resource_id;
    let sub = log.ok(subnet("sub", &net, "224.0.0.0/24")).resource_id;
    let rejection = log.refused(instance("group", &sub, "224.0.0.5"));
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "address");
    assert!(rejection.message.contains("multicast"), "{rejection:?}");
}
