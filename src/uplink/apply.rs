//! What a verified down message does: acknowledgements release records, lists, tariffs,
//! promotions and policies are made durable and then handed to the core, commands run at most
//! once and are all answered. Every refusal changes nothing and is answered on `results`.

use super::downlink::{self, Command, CommandKind, Downlink, DownlinkLimits, RefusalReason};
use super::link::Owner;
use crate::core::session::{AuthMethod, StopReason};
use crate::core::site::{Command as CoreCommand, Event, start_for};
use crate::store::outbox::Stream;
use crate::store::{StoreError, Write};
use crate::wire::{Answer, Status};

pub(super) async fn apply(owner: &mut Owner, topic: &str, payload: &[u8]) {
    let stamp = owner.clock.now();
    let trusted_now = stamp.trusted.then_some(stamp.wall_ms);
    let limits = DownlinkLimits {
        max_bytes: owner.settings.max_downlink_bytes,
        ..DownlinkLimits::default()
    };
    let parsed = downlink::parse(
        &owner.wiring.site_id,
        topic,
        payload,
        &limits,
        &owner.keys,
        trusted_now,
    );
    let down = match parsed {
        Ok(d) => d,
        Err(r) => {
            let reference = r.topic.map_or(topic, |t| t.name()).to_string();
            if let Some(id) = &r.command_id {
                owner.answer_command(id, Status::Refused, Some(r.reason.name()), &r.detail);
            } else {
                owner.refuse(&reference, r.reason, &r.detail);
            }
            return;
        }
    };
    owner.status.last_sync_ms = Some(stamp.wall_ms);
    let reference = down.topic().name();
    match down {
        Downlink::Ack { events, updates } => {
            for (stream, upto) in [(Stream::Events, events), (Stream::Updates, updates)] {
                let Some(upto) = upto else { continue };
                let delivery = match stream {
                    Stream::Events => &mut owner.events,
                    Stream::Updates => &mut owner.updates,
                };
                match delivery.acknowledge(upto) {
                    Ok(Some(upto)) => {
                        if let Err(e) = owner
                            .wiring
                            .store
                            .apply(vec![Write::Acknowledged { stream, upto }])
                            .await
                        {
                            log::error!("uplink: cannot release acknowledged records: {e}");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => owner.refuse(reference, RefusalReason::AckAhead, &e.to_string()),
                }
            }
            owner.pump();
        }
        Downlink::AccessChunk(chunk) => {
            let starts = match owner.assembly.chunk(
                chunk.version,
                chunk.chunk,
                chunk.chunks,
                chunk.rules,
                &chunk.json,
            ) {
                Ok(starts) => starts,
                Err(e) => return owner.refuse(reference, e.reason(), &e.to_string()),
            };
            let mut writes = Vec::new();
            if starts {
                writes.push(Write::AccessListBegin);
            }
            writes.push(Write::AccessListChunk {
                users: chunk.users,
                tokens: chunk.tokens,
            });
            if let Err(e) = owner.wiring.store.apply(writes).await {
                owner.assembly = Default::default();
                owner.refuse(reference, reason_of(&e), &e.to_string());
            }
        }
        Downlink::AccessCommit {
            version,
            chunks,
            sha256,
        } => {
            let rules = match owner.assembly.commit(version, chunks, &sha256) {
                Ok(rules) => rules,
                Err(e) => return owner.refuse(reference, e.reason(), &e.to_string()),
            };
            let write = Write::AccessListCommit {
                version,
                rules: Box::new(rules.clone()),
            };
            if owner.durable(reference, version, vec![write]).await {
                owner.tell_core(Event::AccessRules(Box::new(rules))).await;
            }
        }
        Downlink::AccessDiff {
            version,
            rules,
            users,
            tokens,
        } => {
            let write = Write::AccessListDiff {
                version,
                rules: rules.map(Box::new),
                users,
                tokens,
            };
            if owner.durable(reference, version, vec![write]).await {
                match crate::store::access::load_rules(&owner.db) {
                    Ok(rules) => owner.tell_core(Event::AccessRules(Box::new(rules))).await,
                    Err(e) => log::error!("uplink: cannot read the new access rules: {e}"),
                }
            }
        }
        Downlink::Tariffs { version, tariffs } => {
            let rows = tariffs
                .iter()
                .map(|(t, j)| (t.id.clone(), j.clone()))
                .collect();
            let write = Write::Tariffs {
                version,
                tariffs: rows,
            };
            if owner.durable(reference, version, vec![write]).await {
                let tariffs = tariffs.into_iter().map(|(t, _)| t).collect();
                owner.tell_core(Event::Tariffs(tariffs)).await;
            }
        }
        Downlink::Promotions {
            version,
            promotions,
        } => {
            let rows = promotions
                .iter()
                .map(|(p, j)| (p.id.clone(), j.clone()))
                .collect();
            let write = Write::Promotions {
                version,
                promotions: rows,
            };
            if owner.durable(reference, version, vec![write]).await {
                let promotions = promotions.into_iter().map(|(p, _)| p).collect();
                owner.tell_core(Event::Promotions(promotions)).await;
            }
        }
        Downlink::Config { version, policy } => {
            let write = Write::CentralConfig { version, policy };
            if owner.durable(reference, version, vec![write]).await {
                let merged = policy.apply(owner.policy);
                owner.policy = merged;
                owner.tell_core(Event::Policy(merged)).await;
            }
        }
        Downlink::Command(command) => run_command(owner, command, trusted_now).await,
    }
}

/// The refusal reason of a store error.
fn reason_of(e: &StoreError) -> RefusalReason {
    match e {
        StoreError::VersionMismatch { .. } => RefusalReason::VersionMismatch,
        _ => RefusalReason::Invalid,
    }
}

async fn run_command(owner: &mut Owner, command: Command, trusted_now: Option<i64>) {
    let id = command.id.clone();
    // An expiry can only be judged by a trusted clock; until then commands are taken as fresh.
    if trusted_now.is_some_and(|now| command.expired(now)) {
        return owner.answer_command(&id, Status::Expired, None, "past its expires_at");
    }
    let seen = Write::CommandSeen {
        id: id.clone(),
        expires_ms: command.expires_at_ms,
        now_ms: owner.clock.now().wall_ms,
    };
    match owner.wiring.store.apply(vec![seen]).await {
        Ok(()) => {}
        Err(StoreError::Rejected(_)) => {
            return owner.answer_command(&id, Status::Duplicate, None, "already received");
        }
        Err(e) => {
            log::error!("uplink: cannot record command {id}: {e}");
            return owner.answer_command(&id, Status::Rejected, Some("storage"), &e.to_string());
        }
    }
    let outcome = execute(owner, command.kind).await;
    match outcome {
        Ok(()) => owner.answer_command(&id, Status::Accepted, None, ""),
        Err(why) => owner.answer_command(&id, Status::Rejected, Some(why.0), &why.1),
    }
}

/// Why a command could not run: the reason name and a detail.
struct Refused(&'static str, String);

async fn execute(owner: &mut Owner, kind: CommandKind) -> Result<(), Refused> {
    match kind {
        CommandKind::RemoteStart { socket, token } => {
            let index = owner.socket_index(&socket)?;
            let view = owner.view(index).ok_or_else(|| unknown(&socket))?;
            // Central decided (after a card payment, say): the listed user when there is one.
            let found = crate::store::access::lookup(&owner.db, &token).ok();
            let start = start_for(
                index,
                &view,
                found.as_ref(),
                token.redacted(),
                AuthMethod::Remote,
            )
            .ok_or_else(|| {
                Refused(
                    "socket_unavailable",
                    format!("socket {socket} is out of service or has a session"),
                )
            })?;
            owner.tell_core(Event::Command(start)).await;
            Ok(())
        }
        CommandKind::RemoteStop { socket, session_id } => {
            let index = match (socket, session_id) {
                (Some(socket), _) => owner.socket_index(&socket)?,
                (None, Some(session)) => owner.socket_of_session(&session).ok_or_else(|| {
                    Refused("unknown_session", format!("no running session {session}"))
                })?,
                (None, None) => return Err(Refused("invalid", "no socket or session".into())),
            };
            if owner.view(index).is_none_or(|v| v.session.is_none()) {
                return Err(Refused("no_session", "no session runs there".into()));
            }
            owner
                .tell_core(Event::Command(CoreCommand::StopSession {
                    socket: index,
                    reason: StopReason::Remote,
                }))
                .await;
            Ok(())
        }
        CommandKind::SetAvailability { socket, in_service } => {
            let index = owner.socket_index(&socket)?;
            owner
                .tell_core(Event::Command(CoreCommand::SetOutOfService {
                    socket: index,
                    out_of_service: !in_service,
                }))
                .await;
            Ok(())
        }
        CommandKind::Reset { socket } => {
            let index = owner.socket_index(&socket)?;
            if owner.view(index).is_some_and(|v| v.session.is_some()) {
                owner
                    .tell_core(Event::Command(CoreCommand::StopSession {
                        socket: index,
                        reason: StopReason::Reset,
                    }))
                    .await;
            }
            Ok(())
        }
        CommandKind::ReportState => {
            owner.report_state();
            Ok(())
        }
        CommandKind::AuthorizeAnswer { token, entry } => {
            owner
                .tell_core(Event::Command(CoreCommand::CentralAnswer { token, entry }))
                .await;
            Ok(())
        }
    }
}

fn unknown(socket: &str) -> Refused {
    Refused("unknown_socket", format!("no socket {socket} at this site"))
}

impl Owner {
    fn socket_index(&self, socket: &str) -> Result<usize, Refused> {
        self.wiring
            .socket_ids
            .iter()
            .position(|s| s == socket)
            .ok_or_else(|| unknown(socket))
    }

    fn socket_of_session(&self, session: &str) -> Option<usize> {
        self.wiring.sockets.borrow().iter().position(|s| {
            s.view
                .session
                .as_ref()
                .is_some_and(|x| x.id.to_string() == session)
        })
    }

    /// Commits `writes`; answers `accepted` (with the version) or the refusal. `true` when
    /// they are durable.
    async fn durable(&mut self, reference: &str, version: u64, writes: Vec<Write>) -> bool {
        match self.wiring.store.apply(writes).await {
            Ok(()) => {
                let now = self.clock.now().wall_ms;
                let answer = Answer::new(reference, None, Status::Accepted, None, None, now);
                self.answer(answer.version(version).into_value());
                true
            }
            Err(StoreError::VersionMismatch { current, offered }) => {
                self.status.refused += 1;
                let detail = format!("version {offered} is not above the current {current}");
                log::warn!(code = "VersionMismatch"; "uplink: refused {reference}: {detail}");
                let now = self.clock.now().wall_ms;
                let mut answer = Answer::new(
                    reference,
                    None,
                    Status::Refused,
                    Some(RefusalReason::VersionMismatch.name()),
                    Some(&detail),
                    now,
                )
                .current(current);
                if reference.starts_with("access/") {
                    // OCPP: a stale differential means central must send the full list.
                    answer = answer.want_full_list();
                }
                self.answer(answer.into_value());
                false
            }
            Err(e) => {
                self.refuse(reference, reason_of(&e), &e.to_string());
                false
            }
        }
    }

    fn answer_command(&mut self, id: &str, status: Status, reason: Option<&str>, detail: &str) {
        if status != Status::Accepted {
            log::warn!("uplink: command {id} {}: {detail}", status.name());
        }
        let now = self.clock.now().wall_ms;
        let detail = (!detail.is_empty()).then_some(detail);
        self.answer(Answer::new("commands", Some(id), status, reason, detail, now).into_value());
    }

    async fn tell_core(&mut self, event: Event) {
        if self.wiring.core.send(event).await.is_err() {
            log::warn!("uplink: the core has stopped");
        }
    }
}
