//! MailService behaviour (spec §3, ref §1.8, §3.6, Appendix A) against the in-memory adapters,
//! including the `waitForMail` long-poll and its lost-wake-up race.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use maestro_domain::entities::{
    MailFilter, MailMessage, MailPriority, MailScope, MailType, Project, Session, SessionPatch,
    SessionStatus, TeamMemberSnapshot,
};
use maestro_domain::events::EventBus;
use maestro_domain::events::names as ev;
use maestro_domain::services::{CreateSession, SendMail, SessionMailInput};
use serde_json::json;
use support::*;

fn mail(project: &str, from: &str, to: Option<&str>, subject: &str) -> SendMail {
    SendMail {
        project_id: project.to_owned(),
        from_session_id: from.to_owned(),
        to_session_id: Some(to.map(str::to_owned)),
        to_team_member_id: None,
        reply_to_mail_id: None,
        kind: MailType::Query,
        subject: subject.to_owned(),
        body: None,
        priority: None,
        scope: None,
    }
}

fn scoped(project: &str, from: &str, scope: Option<MailScope>) -> SendMail {
    SendMail {
        to_session_id: None,
        scope,
        ..mail(project, from, None, "hello team")
    }
}

async fn one(h: &Harness, input: SendMail) -> MailMessage {
    let mut v = h.app.mail.send(input).await.unwrap();
    assert_eq!(v.len(), 1, "expected a single stored mail");
    v.remove(0)
}

async fn session_in(
    h: &Harness,
    p: &Project,
    parent: Option<&str>,
    member: Option<&str>,
    status: SessionStatus,
) -> Session {
    let s = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            parent_session_id: parent.map(Into::into),
            status: Some(status),
            ..CreateSession::default()
        })
        .await;
    match member {
        Some(m) => h
            .app
            .sessions
            .update(
                &s.id,
                SessionPatch {
                    team_members: Some((
                        vec![m.to_owned()],
                        vec![TeamMemberSnapshot {
                            name: m.into(),
                            avatar: "x".into(),
                            role: "r".into(),
                            model: None,
                            agent_tool: None,
                            permission_mode: None,
                        }],
                    )),
                    ..SessionPatch::default()
                },
            )
            .await
            .unwrap(),
        None => s,
    }
}

fn targets(v: &[MailMessage]) -> Vec<Option<&str>> {
    v.iter().map(|m| m.to_session_id.as_deref()).collect()
}

// ------------------------------------------------------------------------------------ send

#[tokio::test]
async fn direct_mail_is_stored_and_announced_to_its_target() {
    let h = harness();
    let mut sub = h.subscribe();
    let m = one(&h, mail("proj_1", "sess_a", Some("sess_b"), "Status?")).await;
    assert!(m.id.starts_with("mail_"));
    assert_eq!(m.thread_id, m.id, "a root mail is its own thread");
    assert_eq!(m.to_session_id.as_deref(), Some("sess_b"));
    assert_eq!(m.reply_to_mail_id, None);
    assert_eq!(m.body, json!({}));
    assert_eq!(m.created_at, T0);
    let json = to_json(&m);
    assert_eq!(json["type"], "query");
    assert_eq!(json["replyToMailId"], json!(null));
    assert!(json.get("priority").is_none() && json.get("readAt").is_none());
    assert_eq!(h.app.mail.get(&m.id).await.unwrap(), m);
    let events = expect_events(&mut sub, &[ev::MAIL_RECEIVED]);
    envelope(&events[0], ev::MAIL_RECEIVED, "proj_1", Some("sess_b"));
    assert_eq!(events[0].data, json);
}

#[tokio::test]
async fn broadcast_mail_has_null_target_and_no_session_scope() {
    let h = harness();
    let mut sub = h.subscribe();
    let explicit = one(&h, mail("proj_1", "sess_a", None, "all hands")).await;
    assert_eq!(explicit.to_session_id, None);
    let all = one(&h, scoped("proj_1", "sess_a", Some(MailScope::All))).await;
    assert_eq!(all.to_session_id, None);
    let unscoped = one(&h, scoped("proj_1", "sess_a", None)).await;
    assert_eq!(unscoped.to_session_id, None);
    let events = expect_events(&mut sub, &[ev::MAIL_RECEIVED; 3]);
    for e in &events {
        envelope(e, ev::MAIL_RECEIVED, "proj_1", None);
        assert_eq!(e.data.to_value()["toSessionId"], json!(null));
    }
}

#[tokio::test]
async fn to_team_member_fans_out_to_active_sessions() {
    let h = harness();
    let p = h.project("p").await;
    let q = h.project("q").await;
    let a = session_in(&h, &p, None, Some("tm_w"), SessionStatus::Working).await;
    let b = session_in(&h, &p, None, Some("tm_w"), SessionStatus::Idle).await;
    let c = session_in(&h, &p, None, Some("tm_w"), SessionStatus::Spawning).await;
    session_in(&h, &p, None, Some("tm_w"), SessionStatus::Completed).await;
    session_in(&h, &p, None, Some("tm_w"), SessionStatus::Stopped).await;
    session_in(&h, &p, None, Some("tm_other"), SessionStatus::Working).await;
    session_in(&h, &q, None, Some("tm_w"), SessionStatus::Working).await;
    let mut sub = h.subscribe();

    let input = SendMail {
        to_session_id: None,
        to_team_member_id: Some("tm_w".into()),
        ..mail(&p.id, "sess_boss", None, "work")
    };
    let sent = h.app.mail.send(input.clone()).await.unwrap();
    assert_eq!(
        targets(&sent),
        vec![
            Some(a.id.as_str()),
            Some(b.id.as_str()),
            Some(c.id.as_str())
        ]
    );
    let ids: std::collections::BTreeSet<_> = sent.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), 3, "one copy each, distinct ids");
    for m in &sent {
        assert_eq!(m.thread_id, m.id);
    }
    let events = expect_events(&mut sub, &[ev::MAIL_RECEIVED; 3]);
    for (e, s) in events.iter().zip([&a, &b, &c]) {
        envelope(e, ev::MAIL_RECEIVED, &p.id, Some(&s.id));
    }

    // An explicit toSessionId wins over toTeamMemberId.
    let direct = SendMail {
        to_session_id: Some(Some("sess_direct".into())),
        ..input.clone()
    };
    assert_eq!(
        targets(&h.app.mail.send(direct).await.unwrap()),
        vec![Some("sess_direct")]
    );
    drain(&mut sub);

    let nobody = SendMail {
        to_team_member_id: Some("tm_idle".into()),
        ..input
    };
    let err = h.app.mail.send(nobody).await.unwrap_err();
    expect_err(
        err,
        "NOT_FOUND",
        "Active session for team member with id 'tm_idle' not found",
    );
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn scopes_target_workers_or_siblings_and_fall_back_to_broadcast() {
    let h = harness();
    let p = h.project("p").await;
    let boss = session_in(&h, &p, None, None, SessionStatus::Working).await;
    let w1 = session_in(&h, &p, Some(&boss.id), None, SessionStatus::Working).await;
    let w2 = session_in(&h, &p, Some(&boss.id), None, SessionStatus::Idle).await;
    session_in(&h, &p, Some(&boss.id), None, SessionStatus::Completed).await;
    let lone = session_in(&h, &p, None, None, SessionStatus::Working).await;
    let other_boss = session_in(&h, &p, None, None, SessionStatus::Working).await;
    session_in(&h, &p, Some(&other_boss.id), None, SessionStatus::Working).await;

    let workers = h
        .app
        .mail
        .send(scoped(&p.id, &boss.id, Some(MailScope::MyWorkers)))
        .await
        .unwrap();
    assert_eq!(
        targets(&workers),
        vec![Some(w1.id.as_str()), Some(w2.id.as_str())]
    );

    let team = h
        .app
        .mail
        .send(scoped(&p.id, &w1.id, Some(MailScope::Team)))
        .await
        .unwrap();
    assert_eq!(
        targets(&team),
        vec![Some(w2.id.as_str())],
        "siblings, sender excluded"
    );

    let mut sub = h.subscribe();
    let fallback = h
        .app
        .mail
        .send(scoped(&p.id, &lone.id, Some(MailScope::MyWorkers)))
        .await
        .unwrap();
    assert_eq!(
        targets(&fallback),
        vec![None],
        "no workers: a single broadcast"
    );
    let events = expect_events(&mut sub, &[ev::MAIL_RECEIVED]);
    envelope(&events[0], ev::MAIL_RECEIVED, &p.id, None);

    let solo_child = session_in(&h, &p, Some(&lone.id), None, SessionStatus::Working).await;
    let fallback = h
        .app
        .mail
        .send(scoped(&p.id, &solo_child.id, Some(MailScope::Team)))
        .await
        .unwrap();
    assert_eq!(
        targets(&fallback),
        vec![None],
        "no siblings: a single broadcast"
    );
}

/// Ref Appendix A: `toTeamMemberId && !toSessionId` — an explicit `toSessionId: null` does not
/// turn a team-member mail into a broadcast.
#[tokio::test]
async fn to_team_member_with_explicit_null_target_still_fans_out() {
    let h = harness();
    let p = h.project("p").await;
    let a = session_in(&h, &p, None, Some("tm_w"), SessionStatus::Working).await;
    let sent = h
        .app
        .mail
        .send(SendMail {
            to_session_id: Some(None),
            to_team_member_id: Some("tm_w".into()),
            ..mail(&p.id, "sess_boss", None, "work")
        })
        .await
        .unwrap();
    assert_eq!(targets(&sent), vec![Some(a.id.as_str())]);
}

/// Ref Appendix A: a sender without a parent has no team, so `scope: team` falls back to a
/// single broadcast instead of mailing every other root session.
#[tokio::test]
async fn team_scope_of_a_root_session_is_a_broadcast() {
    let h = harness();
    let p = h.project("p").await;
    let root = session_in(&h, &p, None, None, SessionStatus::Working).await;
    session_in(&h, &p, None, None, SessionStatus::Working).await;
    session_in(&h, &p, None, None, SessionStatus::Idle).await;
    let sent = h
        .app
        .mail
        .send(scoped(&p.id, &root.id, Some(MailScope::Team)))
        .await
        .unwrap();
    assert_eq!(targets(&sent), vec![None]);
    // An unknown sender has no team either.
    let sent = h
        .app
        .mail
        .send(scoped(&p.id, "sess_unknown", Some(MailScope::Team)))
        .await
        .unwrap();
    assert_eq!(targets(&sent), vec![None]);
}

#[tokio::test]
async fn replies_inherit_the_thread() {
    let h = harness();
    let root = one(&h, mail("proj_1", "a", Some("b"), "q")).await;
    let reply = one(
        &h,
        SendMail {
            reply_to_mail_id: Some(root.id.clone()),
            kind: MailType::Response,
            ..mail("proj_1", "b", Some("a"), "re: q")
        },
    )
    .await;
    assert_eq!(reply.thread_id, root.id);
    assert_eq!(reply.reply_to_mail_id.as_deref(), Some(root.id.as_str()));
    h.tick(1);
    let reply2 = one(
        &h,
        SendMail {
            reply_to_mail_id: Some(reply.id.clone()),
            ..mail("proj_1", "a", Some("b"), "re: re: q")
        },
    )
    .await;
    assert_eq!(
        reply2.thread_id, root.id,
        "the thread is inherited, not the parent id"
    );
    one(&h, mail("proj_1", "a", Some("b"), "unrelated")).await;
    let thread: Vec<_> = h
        .app
        .mail
        .thread(&root.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(thread, vec![root.id.clone(), reply.id, reply2.id]);

    let mut sub = h.subscribe();
    let err = h
        .app
        .mail
        .send(SendMail {
            reply_to_mail_id: Some("mail_ghost".into()),
            ..mail("proj_1", "a", Some("b"), "x")
        })
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn subject_must_be_1_to_500_characters() {
    let h = harness();
    let mut sub = h.subscribe();
    for bad in [String::new(), "a".repeat(501)] {
        let err = h
            .app
            .mail
            .send(mail("p", "a", Some("b"), &bad))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION_ERROR");
        match err {
            maestro_domain::DomainError::Validation { details, .. } => {
                assert_eq!(details[0].path, "subject")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    expect_no_events(&mut sub);
    // Characters, not bytes.
    one(&h, mail("p", "a", Some("b"), &"é".repeat(500))).await;
    one(&h, mail("p", "a", Some("b"), "x")).await;
}

// ----------------------------------------------------------------------- inbox, get, delete

#[tokio::test]
async fn inbox_sorts_by_priority_then_time_and_filters() {
    let h = harness();
    let send = |subject: &str,
                to: Option<&str>,
                project: &str,
                priority: Option<MailPriority>,
                kind: MailType| SendMail {
        priority,
        kind,
        ..mail(project, "sender", to, subject)
    };
    one(
        &h,
        send(
            "low",
            Some("me"),
            "p",
            Some(MailPriority::Low),
            MailType::Query,
        ),
    )
    .await;
    h.tick(1);
    one(&h, send("normal-1", Some("me"), "p", None, MailType::Query)).await;
    h.tick(1);
    one(
        &h,
        send(
            "critical",
            None,
            "p",
            Some(MailPriority::Critical),
            MailType::Directive,
        ),
    )
    .await;
    h.tick(1);
    one(
        &h,
        send(
            "normal-2",
            Some("me"),
            "p",
            Some(MailPriority::Normal),
            MailType::Query,
        ),
    )
    .await;
    h.tick(1);
    one(
        &h,
        send(
            "high",
            Some("me"),
            "p",
            Some(MailPriority::High),
            MailType::Query,
        ),
    )
    .await;
    one(
        &h,
        send(
            "other-session",
            Some("you"),
            "p",
            Some(MailPriority::Critical),
            MailType::Query,
        ),
    )
    .await;
    one(
        &h,
        send(
            "other-project",
            Some("me"),
            "q",
            Some(MailPriority::Critical),
            MailType::Query,
        ),
    )
    .await;
    one(
        &h,
        send("other-project-bc", None, "q", None, MailType::Query),
    )
    .await;

    let subjects = |v: Vec<MailMessage>| v.into_iter().map(|m| m.subject).collect::<Vec<_>>();
    let inbox = h
        .app
        .mail
        .inbox("me", "p", &MailFilter::default())
        .await
        .unwrap();
    assert_eq!(
        subjects(inbox),
        vec!["critical", "high", "normal-1", "normal-2", "low"]
    );
    let since = h
        .app
        .mail
        .inbox(
            "me",
            "p",
            &MailFilter {
                kind: None,
                since: Some(T0 + 2),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        subjects(since),
        vec!["high", "normal-2"],
        "since is exclusive"
    );
    let directives = h
        .app
        .mail
        .inbox(
            "me",
            "p",
            &MailFilter {
                kind: Some(MailType::Directive),
                since: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(subjects(directives), vec!["critical"]);
}

#[tokio::test]
async fn get_and_delete() {
    let h = harness();
    let m = one(&h, mail("p", "a", Some("b"), "x")).await;
    let bc = one(&h, mail("p", "a", None, "y")).await;
    let mut sub = h.subscribe();
    h.app.mail.delete(&m.id).await.unwrap();
    h.app.mail.delete(&bc.id).await.unwrap();
    let events = expect_events(&mut sub, &[ev::MAIL_DELETED, ev::MAIL_DELETED]);
    envelope(&events[0], ev::MAIL_DELETED, "p", Some("b"));
    assert_eq!(events[0].data, json!({ "id": m.id }));
    envelope(&events[1], ev::MAIL_DELETED, "p", None);
    expect_err(
        h.app.mail.get(&m.id).await.unwrap_err(),
        "NOT_FOUND",
        &format!("Mail with id '{}' not found", m.id),
    );
    assert!(h.app.mail.delete(&m.id).await.unwrap_err().is_not_found());
    expect_no_events(&mut sub);
}

// --------------------------------------------------------------------- session-scoped mail

#[tokio::test]
async fn session_notify_stores_mail_and_pushes_prompt() {
    let h = harness();
    let p = h.project("p").await;
    let target = h.session(&p, &[]).await;
    let mut sub = h.subscribe();
    let m = h
        .app
        .mail
        .notify(
            &target.id,
            SessionMailInput {
                from_session_id: "sess_boss".into(),
                from_name: "Boss".into(),
                message: "  please rebase  ".into(),
                detail: Some("main moved".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(m.kind, MailType::Notification);
    assert_eq!(m.project_id, p.id);
    assert_eq!(m.to_session_id.as_deref(), Some(target.id.as_str()));
    assert_eq!(m.subject, "  please rebase  ");
    assert_eq!(
        m.body,
        json!({ "fromName": "Boss", "message": "  please rebase  ", "detail": "main moved" })
    );
    let events = expect_events(&mut sub, &[ev::MAIL_RECEIVED, ev::SESSION_PROMPT_SEND]);
    envelope(&events[0], ev::MAIL_RECEIVED, &p.id, Some(&target.id));
    envelope(&events[1], ev::SESSION_PROMPT_SEND, &p.id, Some(&target.id));
    assert_eq!(
        events[1].data,
        json!({
            "sessionId": target.id,
            "content": "[From: Boss] please rebase — mail stored, run: maestro session mail read",
            "mode": "send",
            "senderSessionId": "sess_boss",
        }),
        "exact content, and no timestamp key"
    );
    assert_eq!(
        h.stored_session(&target.id).await.timeline,
        target.timeline,
        "no timeline entry"
    );

    let err = h
        .app
        .mail
        .notify(
            "sess_x",
            SessionMailInput {
                from_session_id: "a".into(),
                from_name: "A".into(),
                message: "m".into(),
                detail: None,
            },
        )
        .await
        .unwrap_err();
    expect_err(err, "NOT_FOUND", "Session with id 'sess_x' not found");
    expect_no_events(&mut sub);
}

#[tokio::test]
async fn session_mail_read_marks_read_and_is_destructive() {
    let h = harness();
    let p = h.project("p").await;
    let parent = h.session(&p, &[]).await;
    let child = h
        .session_with(CreateSession {
            project_id: Some(p.id.clone()),
            parent_session_id: Some(parent.id.clone()),
            ..CreateSession::default()
        })
        .await;
    let note = |msg: &str, detail: Option<&str>| SessionMailInput {
        from_session_id: "sess_boss".into(),
        from_name: "Boss".into(),
        message: msg.into(),
        detail: detail.map(Into::into),
    };
    h.app
        .mail
        .notify(&child.id, note("first", Some("d1")))
        .await
        .unwrap();
    h.tick(1);
    h.app
        .mail
        .notify(&child.id, note("second", None))
        .await
        .unwrap();
    h.app
        .mail
        .notify(&parent.id, note("for parent", None))
        .await
        .unwrap();
    // Broadcasts are not part of the session view.
    one(&h, mail(&p.id, "x", None, "broadcast")).await;
    h.tick(100);
    let mut sub = h.subscribe();

    let read = h.app.mail.read_session_mail(&child.id).await.unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(
        to_json(&read[0]),
        json!({
            "id": read[0].id,
            "parentSessionId": parent.id,
            "fromSessionId": "sess_boss",
            "fromName": "Boss",
            "toSessionId": child.id,
            "message": "first",
            "detail": "d1",
            "createdAt": T0,
            "readAt": T0 + 101,
        })
    );
    assert_eq!(read[1].message, "second");
    assert!(to_json(&read[1]).get("detail").is_none());
    assert_eq!(
        h.app.mail.get(&read[0].id).await.unwrap().read_at,
        Some(T0 + 101),
        "persisted"
    );
    assert!(
        h.app
            .mail
            .read_session_mail(&child.id)
            .await
            .unwrap()
            .is_empty(),
        "second read is empty"
    );
    expect_no_events(&mut sub);

    // A root session is its own partition.
    let own = h.app.mail.read_session_mail(&parent.id).await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].parent_session_id, parent.id);

    h.app
        .mail
        .notify(&child.id, note("third", None))
        .await
        .unwrap();
    // Typed direct mail is part of the same store: sender id and subject fill the view.
    one(
        &h,
        mail(&p.id, "sess_peer", Some(&child.id), "typed subject"),
    )
    .await;
    let read = h.app.mail.read_session_mail(&child.id).await.unwrap();
    assert_eq!(
        read.iter()
            .map(|m| (m.from_name.as_str(), m.message.as_str()))
            .collect::<Vec<_>>(),
        vec![("Boss", "third"), ("sess_peer", "typed subject")]
    );

    assert!(
        h.app
            .mail
            .read_session_mail("sess_x")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

// ---------------------------------------------------------------------------- waitForMail

#[tokio::test(start_paused = true)]
async fn wait_returns_existing_mail_at_once() {
    let h = harness();
    one(&h, mail("p", "a", Some("me"), "one")).await;
    h.tick(1);
    one(&h, mail("p", "a", None, "two")).await;
    one(&h, mail("p", "a", Some("you"), "not mine")).await;
    let start = tokio::time::Instant::now();
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        h.app.mail.wait("me", "p", None, None),
    )
    .await
    .expect("returns immediately")
    .unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no waiting when mail exists"
    );
    assert_eq!(
        got.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
        vec!["one", "two"]
    );

    // `since` excludes older mail; then it waits (and times out here).
    let got = h
        .app
        .mail
        .wait("me", "p", Some(50), Some(T0 + 1))
        .await
        .unwrap();
    assert!(got.is_empty());
}

#[tokio::test(start_paused = true)]
async fn wait_wakes_on_new_mail_for_the_session() {
    let h = Arc::new(harness());
    let waiter = {
        let h = h.clone();
        tokio::spawn(async move { h.app.mail.wait("me", "p", None, None).await })
    };
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiter.is_finished(),
        "nothing to return yet: the wait is parked"
    );
    // Mail for others, other projects and non-mail events do not wake it.
    one(&h, mail("p", "a", Some("you"), "not mine")).await;
    one(&h, mail("q", "a", Some("me"), "other project")).await;
    h.project("noise").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiter.is_finished());

    let sent = one(&h, mail("p", "a", Some("me"), "wake up")).await;
    let got = tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .expect("woken by the new mail")
        .unwrap()
        .unwrap();
    assert_eq!(got, vec![sent]);
}

/// `since` selects what the *inbox* check returns; a mail that arrives during the wait is
/// returned whatever its `createdAt` (ref Appendix A), so one stored in the same millisecond
/// as the last mail the client saw still wakes it.
#[tokio::test(start_paused = true)]
async fn wait_with_since_wakes_on_a_mail_of_the_same_millisecond() {
    let h = Arc::new(harness());
    let seen = one(&h, mail("p", "a", Some("me"), "seen")).await;
    let waiter = {
        let h = h.clone();
        let since = seen.created_at;
        tokio::spawn(async move { h.app.mail.wait("me", "p", None, Some(since)).await })
    };
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiter.is_finished(),
        "the seen mail is not newer than `since`"
    );
    let next = one(&h, mail("p", "a", Some("me"), "next")).await;
    assert_eq!(next.created_at, seen.created_at);
    let got = tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .expect("the new mail must wake the wait")
        .unwrap()
        .unwrap();
    assert_eq!(got, vec![next]);
}

#[tokio::test(start_paused = true)]
async fn wait_wakes_on_broadcast() {
    let h = Arc::new(harness());
    let waiter = {
        let h = h.clone();
        tokio::spawn(async move { h.app.mail.wait("me", "p", Some(10_000), None).await })
    };
    tokio::task::yield_now().await;
    let sent = one(&h, mail("p", "a", None, "everyone")).await;
    assert_eq!(waiter.await.unwrap().unwrap(), vec![sent]);
}

#[tokio::test(start_paused = true)]
async fn wait_times_out_with_empty_list_after_default_30s() {
    let h = harness();
    let start = tokio::time::Instant::now();
    let got = h.app.mail.wait("me", "p", None, None).await.unwrap();
    assert!(got.is_empty());
    assert_eq!(start.elapsed(), Duration::from_secs(30));

    let start = tokio::time::Instant::now();
    h.app.mail.wait("me", "p", Some(1_000), None).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));

    let start = tokio::time::Instant::now();
    h.app
        .mail
        .wait("me", "p", Some(10_000_000), None)
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(120), "capped at 120 s");
}

/// Issue 12 item 11: on shutdown a pending long-poll answers `[]` at once instead of holding
/// the server's drain until the grace period ends; a wait that starts afterwards does not
/// wait, but still returns mail that is already there.
#[tokio::test(start_paused = true)]
async fn wait_answers_empty_at_once_on_shutdown() {
    let h = Arc::new(harness());
    let waiter = {
        let h = h.clone();
        tokio::spawn(async move { h.app.mail.wait("me", "p", Some(120_000), None).await })
    };
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiter.is_finished(),
        "nothing to return yet: the wait is parked"
    );
    let start = tokio::time::Instant::now();
    h.app.shutdown();
    let got = tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .expect("shutdown must end a pending wait at once")
        .unwrap()
        .unwrap();
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(start.elapsed(), Duration::ZERO);

    let got = tokio::time::timeout(
        Duration::from_secs(1),
        h.app.mail.wait("me", "p", Some(120_000), None),
    )
    .await
    .expect("a wait after shutdown does not wait")
    .unwrap();
    assert!(got.is_empty());
    let sent = one(&h, mail("p", "a", Some("me"), "late")).await;
    let got = h.app.mail.wait("me", "p", None, None).await.unwrap();
    assert_eq!(got, vec![sent], "existing mail is still returned");
}

/// A tiny deterministic PRNG (xorshift64) for the race schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn yields(n: u64) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

/// The lost wake-up race of spec §3: a mail stored while the wait is between its inbox read
/// and its subscription must still be returned. Real time; a miss shows up as `[]` after 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_never_misses_a_concurrent_send_joined() {
    let h = harness();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..200 {
        let session = format!("sess_race_{i}");
        let wait_delay = rng.next() % 4;
        let send_delay = rng.next() % 4;
        // Widen the window between the waiter's inbox snapshot and its next step.
        h.mail.set_inbox_yields(rng.next() % 4);
        let (got, sent) = tokio::join!(
            async {
                yields(wait_delay).await;
                h.app
                    .mail
                    .wait(&session, "p", Some(5_000), None)
                    .await
                    .unwrap()
            },
            async {
                yields(send_delay).await;
                one(&h, mail("p", "a", Some(&session), "race")).await
            }
        );
        assert_eq!(got, vec![sent], "iteration {i}: wait missed the mail");
    }
}

/// Same race with the wait and the send on different worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wait_never_misses_a_concurrent_send_parallel() {
    let h = Arc::new(harness());
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for i in 0..200 {
        let session = format!("sess_par_{i}");
        let wait_delay = rng.next() % 4;
        let send_delay = rng.next() % 4;
        h.mail.set_inbox_yields(rng.next() % 4);
        let waiter = {
            let h = h.clone();
            let session = session.clone();
            tokio::spawn(async move {
                yields(wait_delay).await;
                h.app
                    .mail
                    .wait(&session, "p", Some(5_000), None)
                    .await
                    .unwrap()
            })
        };
        let sender = {
            let h = h.clone();
            tokio::spawn(async move {
                yields(send_delay).await;
                one(&h, mail("p", "a", Some(&session), "race")).await
            })
        };
        let sent = sender.await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("wait must finish")
            .unwrap();
        assert_eq!(got, vec![sent], "iteration {i}: wait missed the mail");
    }
}

/// A wait that falls more than the bus capacity (4,096) behind loses the `mail:received`
/// event itself; it must then find the mail in the inbox instead of waiting it out.
#[tokio::test(start_paused = true)]
async fn wait_that_lags_behind_the_bus_still_finds_the_mail() {
    let h = Arc::new(harness());
    let waiter = {
        let h = h.clone();
        tokio::spawn(async move { h.app.mail.wait("me", "p", None, None).await })
    };
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished());
    // No await point yields to the waiter in between: the mail's event is pushed out by the
    // noise before the waiter reads anything.
    let sent = one(&h, mail("p", "a", Some("me"), "buried")).await;
    for n in 0..5_000 {
        h.bus
            .emit(maestro_domain::events::NewEvent::new(
                "task:updated",
                "p",
                json!({ "n": n }),
            ))
            .await
            .unwrap();
    }
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got, vec![sent]);
}
