//! Property tests over random command sequences, valid and invalid.
//!
//! After every step the invariants hold and revisions only move forward with
//! accepted commands; the same log gives the same snapshot bytes; a snapshot
//! taken midway plus the rest of the log equals the full replay; and a
//! retried client token never applies twice (an access token's retry comes
//! with a new secret, as a node would generate); every event records the
//! principal of its entry. A failure prints the shrunk sequence; proptest
//! keeps its seed in `proptest-regressions/`.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::State;
use proptest::prelude::*;
use v1::command::Kind;

use crate::harness::*;
use crate::random_log::{Op, PRINCIPALS, Step, TOKEN_RETENTION_MS, World, step_strategy};

/// Whether the entry's sender breaks the principal rule: refused before the
/// client token is looked at, so neither answered from memory nor remembered.
fn bad_sender(envelope: &v1::LogEnvelope) -> bool {
    envelope.principal.contains(' ')
}

fn run(steps: &[Step], split: usize) -> Result<(), TestCaseError> {
    let mut world = World::new();
    let setup_entries = world.log.entries.len();
    // The records a store would hold, written from each entry's changes only.
    let mut store: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = world
        .log
        .state
        .record_keys()
        .into_iter()
        .map(|key| {
            (
                key.to_bytes(),
                world.log.state.record(&key).unwrap().unwrap(),
            )
        })
        .collect();
    let mut previous: Option<v1::LogEnvelope> = None;
    let mut previous_answer: Option<fulcrum_raft_store::domain::Answer> = None;
    // When the memory took each token, by the log's clock: a token is
    // remembered for the retention from then on, whatever retries follow.
    let mut remembered_at: std::collections::BTreeMap<String, i64> =
        std::collections::BTreeMap::new();
    for step in steps {
        world.log.now_ms += step.time_step_ms;
        let sender = step.sender.map_or("", |sender| PRINCIPALS[sender]);
        let envelope = match (&step.op, &previous) {
            (Op::RetryPrevious, Some(previous)) => {
                let mut kind = previous.command.clone().unwrap().kind.unwrap();
                // The node that takes a retry generates a new secret.
                if let Kind::IssueAccessToken(issue) = &mut kind {
                    issue.secret_sha256[0] ^= 0x80;
                }
                envelope_from(
                    &previous.principal,
                    &previous.client_token,
                    world.log.now_ms,
                    kind,
                )
            }
            (Op::RetryPrevious, None) => continue,
            (op, _) => {
                let token = step.token.map(|t| format!("t{t}")).unwrap_or_default();
                envelope_from(sender, &token, world.log.now_ms, world.request(op))
            }
        };
        let revision_before = world.log.state.revision();
        let catalog_before = world.log.state.catalog().clone();
        let applied = world.log.apply_envelope(envelope.clone());
        // A store writes only the records an entry changed.
        for key in &applied.changed {
            match world.log.state.record(key).unwrap() {
                Some(value) => store.insert(key.to_bytes(), value),
                None => store.remove(&key.to_bytes()),
            };
        }

        world
            .log
            .state
            .check_invariants()
            .map_err(TestCaseError::fail)?;
        let token = envelope.client_token.clone();
        let clock = world.log.state.clock_ms();
        let is_retry = matches!(step.op, Op::RetryPrevious);
        let within_retention = remembered_at
            .get(&token)
            .is_some_and(|at| clock - at <= TOKEN_RETENTION_MS);
        if is_retry && !token.is_empty() && within_retention {
            // Within the retention window, the same token and request get the
            // first answer again and nothing is applied twice. The answer comes
            // from memory unless the first attempt reused a token for another
            // request, or came from a sender whose principal breaks the rule:
            // such refusals are never remembered.
            let was_conflict = matches!(&previous_answer, Some(Err(r)) if r.field.as_deref() == Some("client_token"));
            let was_unremembered = was_conflict || bad_sender(&envelope);
            prop_assert_eq!(
                applied.replayed,
                !was_unremembered,
                "retry of token {:?}",
                envelope.client_token
            );
            prop_assert_eq!(Some(&applied.answer), previous_answer.as_ref());
        }
        match (&applied.answer, applied.replayed) {
            (Ok(receipt), false) => {
                prop_assert_eq!(receipt.revision, revision_before + 1);
                prop_assert_eq!(world.log.state.revision(), revision_before + 1);
                prop_assert!(!applied.events.is_empty());
                for event in &applied.events {
                    prop_assert_eq!(&event.principal, &envelope.principal);
                }
            }
            _ => {
                prop_assert_eq!(world.log.state.revision(), revision_before);
                prop_assert_eq!(world.log.state.catalog(), &catalog_before);
                prop_assert!(applied.events.is_empty());
            }
        }
        let conflict =
            matches!(&applied.answer, Err(r) if r.field.as_deref() == Some("client_token"));
        if !token.is_empty() && !applied.replayed && !conflict && !bad_sender(&envelope) {
            remembered_at.insert(token, clock);
        }
        previous_answer = Some(applied.answer.clone());
        previous = Some(envelope);
    }

    // The records written from changes alone rebuild the same state.
    let rebuilt = State::from_records(&store).unwrap();
    prop_assert_eq!(
        &rebuilt,
        &world.log.state,
        "records written from changes differ from the state"
    );

    // The same log gives the same bytes.
    let full = world.log.snapshot();
    let mut replay = State::default();
    for (index, envelope) in &world.log.entries {
        replay.apply(*index, envelope).unwrap();
    }
    prop_assert_eq!(
        &replay.to_snapshot_bytes().unwrap(),
        &full,
        "a replay of the same log differs"
    );

    // A snapshot midway plus the rest of the log equals the full replay.
    let entries = &world.log.entries;
    let split = setup_entries + split % (entries.len() - setup_entries + 1);
    let mut prefix = State::default();
    for (index, envelope) in &entries[..split] {
        prefix.apply(*index, envelope).unwrap();
    }
    let mut restored = State::from_snapshot_bytes(&prefix.to_snapshot_bytes().unwrap()).unwrap();
    for (index, envelope) in &entries[split..] {
        restored.apply(*index, envelope).unwrap();
    }
    prop_assert_eq!(
        &restored.to_snapshot_bytes().unwrap(),
        &full,
        "snapshot at {} plus the rest differs",
        split
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant(
        steps in prop::collection::vec(step_strategy(), 1..80),
        split in any::<usize>(),
    ) {
        run(&steps, split)?;
    }
}
