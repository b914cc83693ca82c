//! [`MailRepository`] contract cases (spec §3, ref Appendix A).

use std::sync::Arc;

use crate::entities::{MailFilter, MailMessage, MailType};
use crate::ports::MailRepository;

use super::fixtures::{T0, extra, mail};
use super::{assert_not_found, join_all, ok};

fn sorted_ids(mut v: Vec<MailMessage>) -> Vec<String> {
    let mut ids: Vec<String> = v.drain(..).map(|m| m.id).collect();
    ids.sort();
    ids
}

fn ids(v: Vec<MailMessage>) -> Vec<String> {
    v.into_iter().map(|m| m.id).collect()
}

/// Insert, get (with unknown keys), delete; `NotFound` on a second delete.
pub async fn insert_get_delete(repo: Arc<dyn MailRepository>) {
    let mut m = mail("mail_1", "p1", "sess_a", Some("sess_b"), T0);
    m.extra = extra();
    assert_eq!(ok(repo.insert(m.clone()).await, "insert"), m);
    assert_eq!(ok(repo.get("mail_1").await, "get"), Some(m));
    assert_eq!(ok(repo.get("mail_missing").await, "get missing"), None);
    ok(repo.delete("mail_1").await, "delete");
    assert_eq!(ok(repo.get("mail_1").await, "get deleted"), None);
    assert_not_found(repo.delete("mail_1").await, "delete twice");
}

/// The inbox of a session holds its direct mail and the broadcasts of its project only;
/// `type` filters by kind and `since` keeps mail created strictly after it.
pub async fn inbox_rules(repo: Arc<dyn MailRepository>) {
    let mut direct = mail("mail_1", "p1", "sess_x", Some("sess_1"), T0 + 100);
    direct.kind = MailType::Assignment;
    let broadcast = mail("mail_2", "p1", "sess_x", None, T0 + 200);
    let other_target = mail("mail_3", "p1", "sess_x", Some("sess_2"), T0 + 150);
    let other_project = mail("mail_4", "p2", "sess_x", Some("sess_1"), T0 + 120);
    let other_broadcast = mail("mail_5", "p2", "sess_x", None, T0 + 130);
    for m in [
        direct,
        broadcast,
        other_target,
        other_project,
        other_broadcast,
    ] {
        ok(repo.insert(m).await, "insert");
    }
    let inbox = |s: &'static str, p: &'static str, f: MailFilter| {
        let repo = repo.clone();
        async move { sorted_ids(ok(repo.inbox(s, p, &f).await, "inbox")) }
    };
    assert_eq!(
        inbox("sess_1", "p1", MailFilter::default()).await,
        ["mail_1", "mail_2"]
    );
    assert_eq!(
        inbox("sess_2", "p1", MailFilter::default()).await,
        ["mail_2", "mail_3"]
    );
    assert_eq!(
        inbox("sess_1", "p2", MailFilter::default()).await,
        ["mail_4", "mail_5"]
    );
    assert_eq!(
        inbox(
            "sess_1",
            "p1",
            MailFilter {
                kind: Some(MailType::Assignment),
                since: None
            }
        )
        .await,
        ["mail_1"]
    );
    assert_eq!(
        inbox(
            "sess_1",
            "p1",
            MailFilter {
                kind: None,
                since: Some(T0 + 100)
            }
        )
        .await,
        ["mail_2"],
        "since is exclusive"
    );
    assert!(
        inbox("sess_1", "p3", MailFilter::default())
            .await
            .is_empty()
    );
}

/// `thread` returns a thread's mail by `createdAt`, then id.
pub async fn thread_order(repo: Arc<dyn MailRepository>) {
    let root = mail("mail_r", "p1", "sess_a", Some("sess_b"), T0 + 200);
    let mut reply1 = mail("mail_b", "p1", "sess_b", Some("sess_a"), T0 + 100);
    reply1.thread_id = "mail_r".into();
    reply1.reply_to_mail_id = Some("mail_r".into());
    let mut reply2 = mail("mail_a", "p1", "sess_b", Some("sess_a"), T0 + 100);
    reply2.thread_id = "mail_r".into();
    let unrelated = mail("mail_z", "p1", "sess_a", None, T0);
    for m in [root, reply1, reply2, unrelated] {
        ok(repo.insert(m).await, "insert");
    }
    assert_eq!(
        ids(ok(repo.thread("mail_r").await, "thread")),
        ["mail_a", "mail_b", "mail_r"]
    );
    assert!(ok(repo.thread("nope").await, "thread").is_empty());
}

/// `unread_direct` lists unread direct mail of a session in any project, by `createdAt`;
/// `mark_read` sets `readAt` only on unread mail and returns exactly those.
pub async fn unread_and_mark_read(repo: Arc<dyn MailRepository>) {
    let late = mail("mail_1", "p1", "sess_x", Some("sess_1"), T0 + 200);
    let early = mail("mail_2", "p2", "sess_x", Some("sess_1"), T0 + 100);
    let broadcast = mail("mail_3", "p1", "sess_x", None, T0 + 50);
    let other = mail("mail_4", "p1", "sess_x", Some("sess_2"), T0 + 60);
    let mut already = mail("mail_5", "p1", "sess_x", Some("sess_1"), T0 + 70);
    already.read_at = Some(T0 + 80);
    for m in [late, early, broadcast, other, already] {
        ok(repo.insert(m).await, "insert");
    }
    assert_eq!(
        ids(ok(repo.unread_direct("sess_1").await, "unread")),
        ["mail_2", "mail_1"]
    );
    let to_mark: Vec<String> = ["mail_1", "mail_2", "mail_5", "mail_missing"]
        .into_iter()
        .map(String::from)
        .collect();
    let marked = ok(repo.mark_read(&to_mark, T0 + 999).await, "mark_read");
    assert_eq!(sorted_ids(marked.clone()), ["mail_1", "mail_2"]);
    assert!(marked.iter().all(|m| m.read_at == Some(T0 + 999)));
    assert!(ok(repo.unread_direct("sess_1").await, "unread").is_empty());
    assert!(
        ok(repo.mark_read(&to_mark, T0 + 1000).await, "mark again").is_empty(),
        "read mail is not marked twice"
    );
    let got = |id: &'static str| {
        let repo = repo.clone();
        async move { ok(repo.get(id).await, "get").and_then(|m| m.read_at) }
    };
    assert_eq!(got("mail_1").await, Some(T0 + 999));
    assert_eq!(
        got("mail_5").await,
        Some(T0 + 80),
        "readAt of read mail kept"
    );
    assert_eq!(got("mail_3").await, None);
}

/// Concurrent `mark_read` calls on overlapping ids mark each mail exactly once.
pub async fn concurrent_mark_read(repo: Arc<dyn MailRepository>) {
    for i in 0..20 {
        ok(
            repo.insert(mail(
                &format!("mail_{i:02}"),
                "p1",
                "s",
                Some("sess_1"),
                T0 + i,
            ))
            .await,
            "insert",
        );
    }
    let all: Vec<String> = (0..20).map(|i| format!("mail_{i:02}")).collect();
    let results = join_all((0..10).map(|k| {
        let repo = repo.clone();
        let ids = all.clone();
        async move { repo.mark_read(&ids, T0 + 1000 + k).await }
    }))
    .await;
    let total: usize = results.into_iter().map(|r| ok(r, "mark_read").len()).sum();
    assert_eq!(total, 20, "each mail is marked by exactly one call");
    assert!(ok(repo.unread_direct("sess_1").await, "unread").is_empty());
}
