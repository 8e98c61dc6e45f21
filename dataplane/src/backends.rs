//! A group as one worker thread serves it: its members with their gauges,
//! counters and passive-health state, its balancer, and the session
//! persistence that may send a request to a member the balancer did not
//! choose.
//!
//! The balancer is rebuilt when the health verdicts change (the health
//! board's epoch moves), never on the path of a request otherwise.
//!
//! *Invariant:* a member that is out of rotation (drained, administratively
//! down) or unhealthy is never chosen, by the balancer or by persistence; an
//! ejected one only when every other usable member is ejected too.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;

use crate::balance::{self, Balancer, WeightedRendezvous, fnv1a};
use crate::config::{self, Group, Persistence};
use crate::counters::{Gauge, MemberCounters, ThreadCounters};
use crate::forwarder::Shared;
use crate::passive;

/// A member as one thread serves it.
pub(crate) struct Member {
    pub(crate) spec: config::Member,
    /// `spec.id`, shared with the access-log entries that name it.
    pub(crate) id: Arc<str>,
    /// Open connections (TCP) or requests in flight (HTTP), all threads.
    pub(crate) gauge: Arc<Gauge>,
    pub(crate) counters: Arc<MemberCounters>,
    /// Its recent failures and ejection, all threads.
    outcomes: Arc<passive::Outcomes>,
    /// The value of the persistence cookie that names it: a hash of its id
    /// (the id itself stays inside).
    cookie: String,
    /// With cookie persistence, the `Set-Cookie` value that names it, built
    /// once per generation rather than per response.
    set_cookie: Option<Rc<str>>,
}

/// The member chosen for a request, and whether the response must set the
/// persistence cookie (the request carried none, or one for a member that
/// may not take it now).
pub(crate) struct Choice {
    pub(crate) member: Rc<Member>,
    pub(crate) set_cookie: Option<Rc<str>>,
}

/// What the balancer was built from.
struct Balancing {
    /// The health board's epoch it was built at.
    epoch: u64,
    balancer: Balancer,
    /// The members' weights (0 for those that take nothing new), hashed
    /// by application cookie; also tells whether a member named by a cookie
    /// may take the request.
    affinity: WeightedRendezvous,
}

/// One group, on one thread.
pub(crate) struct Backends {
    pub(crate) group: Group,
    members: Vec<Rc<Member>>,
    shared: Arc<Shared>,
    balancing: RefCell<Balancing>,
}

impl Backends {
    pub(crate) fn new(group: &Group, shared: &Arc<Shared>, counters: &ThreadCounters) -> Self {
        let members = group
            .members
            .iter()
            .map(|member| {
                let cookie = cookie_value(&member.id);
                let set_cookie = match &group.persistence {
                    Some(Persistence::Cookie(name)) => {
                        Some(Rc::from(format!("{name}={cookie}; Path=/; HttpOnly")))
                    }
                    Some(Persistence::AppCookie(_)) | None => None,
                };
                Rc::new(Member {
                    spec: member.clone(),
                    id: Arc::from(member.id.as_str()),
                    gauge: shared.counters.member_gauge(&member.id),
                    counters: counters.member(&member.id),
                    outcomes: shared.counters.member_outcomes(&member.id),
                    cookie,
                    set_cookie,
                })
            })
            .collect();
        Self {
            balancing: RefCell::new(Self::balancing(group, shared)),
            group: group.clone(),
            members,
            shared: Arc::clone(shared),
        }
    }

    fn balancing(group: &Group, shared: &Shared) -> Balancing {
        let epoch = shared.health.epoch();
        let candidates = balance::candidates(group, |n| {
            shared.health.is_healthy(&group.id, &group.members[n].id)
        });
        Balancing {
            epoch,
            balancer: Balancer::over(group.algorithm, &candidates),
            affinity: WeightedRendezvous::new(&candidates),
        }
    }

    /// The member for a new connection or request from `client`, or `None`
    /// when no member may take it.
    pub(crate) fn pick(&self, client: IpAddr) -> Option<Rc<Member>> {
        self.choose(client, None, None).map(|choice| choice.member)
    }

    /// The member for a request from `client` that carries `cookies` (its
    /// `Cookie` field), never `failed` (a member that just refused it).
    /// Persistence speaks first: the member its cookie names, or the one
    /// its application cookie hashes to; then the balancer, among the
    /// members passive health has not ejected, unless every other one is.
    pub(crate) fn choose(
        &self,
        client: IpAddr,
        cookies: Option<&[u8]>,
        failed: Option<&Rc<Member>>,
    ) -> Option<Choice> {
        let mut balancing = self.balancing.borrow_mut();
        let epoch = self.shared.health.epoch();
        if balancing.epoch != epoch {
            *balancing = Self::balancing(&self.group, &self.shared);
        }
        let excluded =
            failed.and_then(|failed| self.members.iter().position(|m| Rc::ptr_eq(m, failed)));
        let now = self.group.passive_health.is_some().then(passive::now_ms);
        let not_failed = |n: usize| Some(n) != excluded;
        let in_service = |n: usize| {
            not_failed(n) && now.is_none_or(|now| !self.members[n].outcomes.is_ejected(now))
        };
        let mut new_session = false;
        match &self.group.persistence {
            Some(Persistence::Cookie(name)) => {
                let named = cookies
                    .and_then(|cookies| cookie(cookies, name))
                    .and_then(|value| {
                        self.members
                            .iter()
                            .position(|m| m.cookie.as_bytes() == value)
                    })
                    .filter(|n| balancing.affinity.takes(*n) && in_service(*n));
                if let Some(n) = named {
                    return Some(self.chosen(n, false));
                }
                new_session = true;
            }
            Some(Persistence::AppCookie(name)) => {
                if let Some(value) = cookies.and_then(|cookies| cookie(cookies, name)) {
                    let key = fnv1a(value);
                    let affinity = &balancing.affinity;
                    if let Some(n) = affinity
                        .pick_hashed(key, in_service)
                        .or_else(|| affinity.pick_hashed(key, not_failed))
                    {
                        return Some(self.chosen(n, false));
                    }
                }
            }
            None => {}
        }
        let open = |n: usize| self.members[n].gauge.open();
        let balancer = &mut balancing.balancer;
        let chosen = balancer
            .pick_where(client, open, in_service)
            .or_else(|| balancer.pick_where(client, open, not_failed))?;
        Some(self.chosen(chosen, new_session))
    }

    /// Member `n`, with the cookie that keeps its client on it when
    /// `new_session` (cookie persistence only).
    fn chosen(&self, n: usize, new_session: bool) -> Choice {
        let member = Rc::clone(&self.members[n]);
        let set_cookie = member.set_cookie.clone().filter(|_| new_session);
        Choice { member, set_cookie }
    }

    /// Records what `member` did with a request or connection: served it,
    /// or failed (its connection refused or timed out; for HTTP, an answer
    /// of 500 or above). Passive health ejects it after enough failures.
    pub(crate) fn record(&self, member: &Member, served: bool) {
        let Some(policy) = &self.group.passive_health else {
            return;
        };
        if served {
            member.outcomes.succeeded();
            return;
        }
        let now = passive::now_ms();
        let may_eject = || {
            let ejected = self
                .members
                .iter()
                .filter(|other| other.outcomes.is_ejected(now))
                .count();
            ejected < passive::ejectable(policy, self.members.len())
        };
        if member.outcomes.failed(policy, now, may_eject) {
            tracing::info!(
                group = %self.group.id,
                member = %member.id,
                ejection = ?policy.ejection,
                "member ejected by passive health"
            );
        }
    }
}

/// The persistence cookie's value for the member of id `id`.
fn cookie_value(id: &str) -> String {
    format!("{:016x}", fnv1a(id.as_bytes()))
}

/// The value of the cookie `name` in a `Cookie` field (`a=1; b=2`), if
/// there.
pub(crate) fn cookie<'a>(field: &'a [u8], name: &str) -> Option<&'a [u8]> {
    field.split(|byte| *byte == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let equals = pair.iter().position(|byte| *byte == b'=')?;
        (&pair[..equals] == name.as_bytes()).then(|| &pair[equals + 1..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_by_its_exact_name() {
        let field = b"session=abc; FULCRUM=0011; other=x=y";
        assert_eq!(cookie(field, "FULCRUM"), Some(&b"0011"[..]));
        assert_eq!(cookie(field, "other"), Some(&b"x=y"[..]));
        assert_eq!(cookie(field, "fulcrum"), None);
        assert_eq!(cookie(field, "sess"), None);
        assert_eq!(cookie(b"", "a"), None);
        assert_eq!(cookie(b"a=", "a"), Some(&b""[..]));
    }

    #[test]
    fn a_members_cookie_hides_its_id_and_is_stable() {
        assert_eq!(cookie_value("mbr-1"), cookie_value("mbr-1"));
        assert_ne!(cookie_value("mbr-1"), cookie_value("mbr-2"));
        assert!(!cookie_value("mbr-1").contains("mbr"));
        assert_eq!(cookie_value("mbr-1").len(), 16);
    }
}
