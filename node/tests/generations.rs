//! How the node feeds its data plane. A change costs what it changes: a
//! revision that touches nothing the data plane serves makes no new
//! generation (and statuses still reach it), and a member's weight rebuilds
//! only the service of the listener it serves. A follower keeps warm: it
//! checks the members of listeners whose EIP it does not hold.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use fulcrum_api::v1;
use support::guide::{
    free_port, serves_both, serving_cluster, the_group, the_guide, the_load_balancer,
};
use support::*;
use tokio::time::Instant;

/// The node's applied generation and the services its threads have built.
async fn figures(http: &str) -> (f64, f64) {
    let text = scrape(http).await;
    (
        sample(&text, "fulcrum_dataplane_generation"),
        sample(&text, "fulcrum_dataplane_services_built_total"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_change_to_what_is_served_makes_a_generation() {
    let members = cluster(1, 1).await;
    leader(&members).await;
    members[0].bootstrapped().await;
    let client = members[0].client().await;
    let port = free_port().await;
    let eip = the_guide(&client, port).await;
    serves_both(SocketAddr::from((eip, port as u16))).await;
    let http = members[0].http();
    let before = figures(&http).await;

    // A description: a new revision, which the Load Balancer's status
    // reaches, with no new generation and nothing rebuilt.
    let lb = the_load_balancer(&client).await;
    let updated = client
        .load_balancers()
        .update_load_balancer(v1::UpdateLoadBalancerRequest {
            id: lb.id.clone(),
            description: Some("the shop, described".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .load_balancer
        .unwrap();
    assert!(updated.revision > lb.revision);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let shown = client
            .load_balancers()
            .get_load_balancer(v1::GetLoadBalancerRequest {
                id: lb.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .load_balancer
            .unwrap();
        if shown.provisioning_status == v1::ProvisioningStatus::Active as i32 {
            assert_eq!(shown.revision, updated.revision);
            break;
        }
        assert!(Instant::now() < deadline, "the update never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        figures(&http).await,
        before,
        "a description made a generation"
    );

    // A member's weight: one generation, one service built per thread (the
    // tests' agents run one data-plane thread).
    let group = the_group(&client).await;
    client
        .groups()
        .update_member(v1::UpdateMemberRequest {
            group_id: group.id.clone(),
            member_id: group.members[0].id.clone(),
            weight: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = figures(&http).await;
        if now.0 > before.0 {
            assert_eq!(now, (before.0 + 1.0, before.1 + 1.0));
            break;
        }
        assert!(Instant::now() < deadline, "the weight made no generation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_knows_its_members_health_before_it_serves() {
    let (members, leader_id, _) = serving_cluster().await;
    let lead = &members[(leader_id - 1) as usize];
    let client = lead.client().await;
    let group = the_group(&client).await;
    client
        .groups()
        .update_group(v1::UpdateGroupRequest {
            id: group.id.clone(),
            health_check: Some(v1::HealthCheck {
                r#type: v1::HealthCheckType::Tcp as i32,
                interval_s: Some(1),
                timeout_s: Some(1),
                healthy_threshold: Some(1),
                unhealthy_threshold: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let follower = members.iter().find(|m| m.id() != leader_id).unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = scrape(&follower.http()).await;
        assert_eq!(
            sample(&text, "fulcrum_dataplane_owner"),
            0.0,
            "the follower serves"
        );
        let healthy = text
            .lines()
            .filter(|line| line.starts_with("fulcrum_member_healthy{") && line.ends_with(" 1"))
            .count();
        if healthy == group.members.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the follower has {healthy} members with a verdict"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
